# jetwire-driver-sim: simulated drivers (one MQTT 5 connection each) for
# demos and load tests.  Included from the top-level CMakeLists.txt after
# jetwire_common exists:  include(tools/driver_sim.cmake)
add_executable(jetwire-driver-sim
  ${CMAKE_CURRENT_LIST_DIR}/jetwire_driver_sim.c
  ${CMAKE_CURRENT_LIST_DIR}/driver_sim_route.c)
target_include_directories(jetwire-driver-sim PRIVATE
  ${CMAKE_CURRENT_LIST_DIR} ${PROJECT_SOURCE_DIR}/lib ${MOSQUITTO_INCLUDE_DIR})
target_link_libraries(jetwire-driver-sim PRIVATE jetwire_common ${MOSQUITTO_CLIENT_LIB} m)
# The integration test runs it ($JW_BUILD_DIR/jetwire-driver-sim).
if(TARGET it_driver_sim)
  add_dependencies(it_driver_sim jetwire-driver-sim)
endif()
