/* jetwire web demo: the start page routes a pasted token to its role's page. */
(function () {
	'use strict';
	const J = window.Jetwire;
	J.$('#ws-url').textContent = J.config().wsUrl;
	J.$('#route').addEventListener('submit', (ev) => {
		ev.preventDefault();
		const token = J.$('#token').value.trim();
		const msg = J.$('#route-msg');
		let claims;
		try {
			claims = J.decodeJwt(token);
		} catch (e) {
			msg.textContent = e.message;
			return;
		}
		const role = claims.userType !== undefined ? claims.userType : claims.role;
		const page = J.pageForRole(role);
		if (!page) {
			msg.textContent = 'no page for role "' + role + '" (customer, merchant, driver, admin)';
			return;
		}
		location.href = page + '#token=' + encodeURIComponent(token);
	});
})();
