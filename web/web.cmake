# The web demo (web/): static pages + mqtt.js' browser bundle, assembled into
# ${CMAKE_BINARY_DIR}/web/ (the directory mosquitto's WebSocket listener
# serves with http_dir; the stack adds a generated config.js).  Included
# OPTIONAL from the top-level CMakeLists.txt:  include(web/web.cmake OPTIONAL)
#
# mqtt.js comes from npm at build time, exactly as web/package-lock.json pins
# it (`npm ci` in a copy under the build directory, with npm's cache there
# too); nothing from npm is committed.  Without npm the web root is not
# built: CMake says so, and the browser tests (test/web) fail with that
# reason instead of testing stale pages.  scripts/deps.sh installs nodejs
# and npm.

set(JW_WEB_SRC ${CMAKE_CURRENT_LIST_DIR})
set(JW_WEB_ROOT ${CMAKE_BINARY_DIR}/web)
set(JW_WEB_NPM_DIR ${CMAKE_BINARY_DIR}/web-npm)
set(JW_NPM_CACHE ${CMAKE_BINARY_DIR}/npm-cache)

find_program(JW_NPM npm)
if(NOT JW_NPM)
  message(WARNING "web: npm not found: the web demo (${JW_WEB_ROOT}) will not be built "
    "and the browser tests will fail; install nodejs and npm (scripts/deps.sh does)")
  set(JW_WEB_BUILT OFF)
  return()
endif()
set(JW_WEB_BUILT ON)

# npm ci, again only when the lock file (or package.json) changes.
set(JW_MQTT_BUNDLE ${JW_WEB_NPM_DIR}/node_modules/mqtt/dist/mqtt.min.js)
file(MAKE_DIRECTORY ${JW_WEB_NPM_DIR})
add_custom_command(
  OUTPUT ${JW_WEB_NPM_DIR}/npm-ci.stamp
  COMMAND ${CMAKE_COMMAND} -E copy_if_different
    ${JW_WEB_SRC}/package.json ${JW_WEB_SRC}/package-lock.json ${JW_WEB_NPM_DIR}/
  COMMAND ${CMAKE_COMMAND} -E env npm_config_cache=${JW_NPM_CACHE} npm_config_update_notifier=false
    ${JW_NPM} ci --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error
  COMMAND ${CMAKE_COMMAND} -E touch ${JW_WEB_NPM_DIR}/npm-ci.stamp
  DEPENDS ${JW_WEB_SRC}/package.json ${JW_WEB_SRC}/package-lock.json
  WORKING_DIRECTORY ${JW_WEB_NPM_DIR}
  COMMENT "web: npm ci (mqtt.js, as web/package-lock.json pins it)"
  VERBATIM)

# The pages: everything under web/ except the npm files and this file.
file(GLOB_RECURSE JW_WEB_FILES CONFIGURE_DEPENDS
  RELATIVE ${JW_WEB_SRC}
  ${JW_WEB_SRC}/*.html ${JW_WEB_SRC}/*.js ${JW_WEB_SRC}/*.css ${JW_WEB_SRC}/*.svg)
list(FILTER JW_WEB_FILES EXCLUDE REGEX "(^|/)node_modules/")
set(JW_WEB_OUTPUTS)
foreach(f IN LISTS JW_WEB_FILES)
  add_custom_command(
    OUTPUT ${JW_WEB_ROOT}/${f}
    COMMAND ${CMAKE_COMMAND} -E copy ${JW_WEB_SRC}/${f} ${JW_WEB_ROOT}/${f}
    DEPENDS ${JW_WEB_SRC}/${f}
    VERBATIM)
  list(APPEND JW_WEB_OUTPUTS ${JW_WEB_ROOT}/${f})
endforeach()
add_custom_command(
  OUTPUT ${JW_WEB_ROOT}/mqtt.min.js
  COMMAND ${CMAKE_COMMAND} -E copy ${JW_MQTT_BUNDLE} ${JW_WEB_ROOT}/mqtt.min.js
  DEPENDS ${JW_WEB_NPM_DIR}/npm-ci.stamp
  COMMENT "web: mqtt.min.js into ${JW_WEB_ROOT}"
  VERBATIM)

add_custom_target(web ALL DEPENDS ${JW_WEB_OUTPUTS} ${JW_WEB_ROOT}/mqtt.min.js)
