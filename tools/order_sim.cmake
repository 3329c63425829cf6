# jetwire-order-sim: moves the demo's orders through their statuses with
# plain SQL (docs/order-sim.md).  Included, optionally, from the top-level
# CMakeLists.txt after the bridge:  include(tools/order_sim.cmake OPTIONAL)
#
# libpq is found the way bridge/CMakeLists.txt finds it (pkg-config, a
# GLOBAL imported target); found again only if that did not run.
if(NOT TARGET PkgConfig::LIBPQ)
  pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET GLOBAL libpq)
endif()
add_executable(jetwire-order-sim
  ${CMAKE_CURRENT_LIST_DIR}/jetwire_order_sim.c
  ${CMAKE_CURRENT_LIST_DIR}/order_sim_flow.c)
target_include_directories(jetwire-order-sim PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(jetwire-order-sim PRIVATE jetwire_common PkgConfig::LIBPQ m)
