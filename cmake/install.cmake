# Everything `cmake --install` puts in place (docs/install.md).
#
# Included last from the top-level CMakeLists.txt, once every target exists.
# Directories are GNUInstallDirs' (relative to the prefix unless set to an
# absolute path); the prefix can be changed at install time
# (`cmake --install build --prefix /opt/jetwire`) and DESTDIR is honoured.
#
#   <libdir>/jetwire/jetwire_plugin.so                      component plugin
#   <bindir>/jetwire-bridge, jetwire-migrate                component bridge
#   <bindir>/jetwire-acl, jetwire-token                     component tools
#   <bindir>/jetwire-driver-sim, jetwire-order-sim          component sim
#   <sysconfdir>/jetwire/acl/*.acl                          component config
#   <datadir>/jetwire/acl/*.acl   (the shipped ACL files)   component config
#   <datadir>/jetwire/schemas/{migrations,demo,json}        component data
#   <datadir>/jetwire/examples/mosquitto-jetwire.conf       component examples
#   <datadir>/jetwire/examples/jetwire-bridge.conf          component examples
#   ${JETWIRE_SYSTEMD_UNIT_DIR}/jetwire-bridge.service      component systemd
#   <docdir>/*.md  (docs/; README.md is its index)          component docs
#
# ACL files under <sysconfdir> are treated like Debian conffiles: a file the
# administrator changed is kept (and the new version is left next to it as
# *.acl.new); an unchanged one is updated.  <datadir>/jetwire/acl/ holds the
# copy shipped by the last install, which is how "changed" is told apart.
#
# The example mosquitto snippet, the example bridge configuration and the
# systemd unit name installed paths: they are generated at install time
# from dist/*.in, for the prefix actually used.

set(JETWIRE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
  "Where jetwire-bridge.service is installed: relative to the install prefix, or absolute (e.g. /etc/systemd/system)")

# ---- binaries ----
install(TARGETS jetwire_plugin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/jetwire COMPONENT plugin)
install(TARGETS jetwire-bridge jetwire-migrate RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bridge)
install(TARGETS jetwire-acl jetwire-token RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(TARGETS jetwire-driver-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT sim)
if(TARGET jetwire-order-sim)
  install(TARGETS jetwire-order-sim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT sim)
endif()

# ---- SQL, JSON Schemas, documentation ----
install(DIRECTORY ${PROJECT_SOURCE_DIR}/schemas/ DESTINATION ${CMAKE_INSTALL_DATADIR}/jetwire/schemas
  COMPONENT data)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT docs)

# ---- install-time part: ACL files and the generated dist/ files ----
# The directories as configured (possibly relative), for the code below.
file(GLOB_RECURSE _jw_acl_files RELATIVE ${PROJECT_SOURCE_DIR}/acl CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/acl/*)
set(_jw_install_vars "
set(_jw_src \"${PROJECT_SOURCE_DIR}\")
set(_jw_gen \"${PROJECT_BINARY_DIR}/dist\")
set(_jw_acl_files \"${_jw_acl_files}\")
set(_jw_dirs_bindir \"${CMAKE_INSTALL_BINDIR}\")
set(_jw_dirs_libdir \"${CMAKE_INSTALL_LIBDIR}\")
set(_jw_dirs_sysconfdir \"${CMAKE_INSTALL_SYSCONFDIR}\")
set(_jw_dirs_datadir \"${CMAKE_INSTALL_DATADIR}\")
set(_jw_dirs_docdir \"${CMAKE_INSTALL_DOCDIR}\")
set(_jw_dirs_unitdir \"${JETWIRE_SYSTEMD_UNIT_DIR}\")
")

# Resolves the directories against the prefix of this install run (not the
# configured one: `cmake --install --prefix` changes CMAKE_INSTALL_PREFIX).
# Like GNUInstallDirs, a relative sysconfdir under the prefix /usr is /etc.
set(_jw_resolve [=[
function(_jw_full out dir)
  if(IS_ABSOLUTE "${dir}")
    set(_r "${dir}")
  elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr" AND out MATCHES "SYSCONFDIR$")
    set(_r "/${dir}")
  else()
    set(_r "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
  string(REGEX REPLACE "/+" "/" _r "${_r}")
  string(REGEX REPLACE "(.)/$" "\\1" _r "${_r}")
  set(${out} "${_r}" PARENT_SCOPE)
endfunction()
foreach(_d bindir libdir sysconfdir datadir docdir unitdir)
  string(TOUPPER "${_d}" _u)
  _jw_full(JW_${_u} "${_jw_dirs_${_d}}")
endforeach()
set(JW_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(JW_PLUGIN "${JW_LIBDIR}/jetwire/jetwire_plugin.so")
set(JW_CONFDIR "${JW_SYSCONFDIR}/jetwire")
set(JW_ACL_FILE "${JW_CONFDIR}/acl/default.acl")
set(JW_SHAREDIR "${JW_DATADIR}/jetwire")
]=])

# ACL files: install, update or keep (see the top of this file).  Runs before
# the reference copies in <datadir>/jetwire/acl/ are replaced.
set(_jw_acl_code [=[
foreach(_f IN LISTS _jw_acl_files)
  set(_new "${_jw_src}/acl/${_f}")
  set(_dest "$ENV{DESTDIR}${JW_CONFDIR}/acl/${_f}")
  set(_ref "$ENV{DESTDIR}${JW_SHAREDIR}/acl/${_f}")
  get_filename_component(_dest_dir "${JW_CONFDIR}/acl/${_f}" DIRECTORY)
  set(_update TRUE)
  if(EXISTS "${_dest}")
    file(SHA256 "${_dest}" _h_dest)
    file(SHA256 "${_new}" _h_new)
    set(_h_ref "")
    if(EXISTS "${_ref}")
      file(SHA256 "${_ref}" _h_ref)
    endif()
    if(NOT _h_dest STREQUAL _h_new AND NOT _h_dest STREQUAL _h_ref)
      # Changed by the administrator: keep it, leave the new one beside it.
      set(_update FALSE)
      message(STATUS "Kept: ${_dest} (changed locally; the shipped version is ${JW_CONFDIR}/acl/${_f}.new)")
      file(INSTALL DESTINATION "${_dest_dir}" TYPE FILE FILES "${_new}" RENAME "${_f}.new")
    endif()
  endif()
  if(_update)
    file(INSTALL DESTINATION "${_dest_dir}" TYPE FILE FILES "${_new}"
      PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
endforeach()
foreach(_f IN LISTS _jw_acl_files)
  get_filename_component(_ref_dir "${JW_SHAREDIR}/acl/${_f}" DIRECTORY)
  file(INSTALL DESTINATION "${_ref_dir}" TYPE FILE FILES "${_jw_src}/acl/${_f}")
endforeach()
]=])

# The dist/ templates, with @JW_*@ replaced by the resolved paths.
set(_jw_dist_code [=[
# Generated under a directory of their own per DESTDIR and prefix: installs
# of one build tree to other prefixes may run at the same time (the tests).
function(_jw_generate template dest_dir name)
  string(MD5 _key "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
  configure_file("${_jw_src}/dist/${template}" "${_jw_gen}/${_key}/${name}" @ONLY)
  file(INSTALL DESTINATION "${dest_dir}" TYPE FILE FILES "${_jw_gen}/${_key}/${name}")
endfunction()
]=])

install(CODE "${_jw_install_vars}${_jw_resolve}${_jw_acl_code}" COMPONENT config)
install(CODE "${_jw_install_vars}${_jw_resolve}${_jw_dist_code}
_jw_generate(mosquitto-jetwire.conf.in \"\${JW_SHAREDIR}/examples\" mosquitto-jetwire.conf)
_jw_generate(jetwire-bridge.conf.in \"\${JW_SHAREDIR}/examples\" jetwire-bridge.conf)
" COMPONENT examples)
install(CODE "${_jw_install_vars}${_jw_resolve}${_jw_dist_code}
_jw_generate(jetwire-bridge.service.in \"\${JW_UNITDIR}\" jetwire-bridge.service)
" COMPONENT systemd)
