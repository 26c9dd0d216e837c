# netnsd_layer(<name> [USES <layer>...] SOURCES <file>...)
#
# Builds src/<name> as the static library netnsd_<name>. Its include path is
# a directory of its own (build/layers/<name>) holding links to src/<name>
# and to src/<layer> for each layer it USES, and nothing else: a header of a
# layer it does not use cannot be found, so the build itself refuses an
# include that goes up or sideways. Linking a used layer is PUBLIC, so what
# a layer exposes stays usable by those above it.
function(netnsd_layer name)
  cmake_parse_arguments(LAYER "" "" "USES;SOURCES" ${ARGN})
  set(view ${CMAKE_BINARY_DIR}/layers/${name})
  file(MAKE_DIRECTORY ${view})
  foreach(layer ${name} ${LAYER_USES})
    if(NOT EXISTS ${view}/${layer})
      file(CREATE_LINK ${CMAKE_SOURCE_DIR}/src/${layer} ${view}/${layer} SYMBOLIC)
    endif()
  endforeach()
  add_library(netnsd_${name} STATIC ${LAYER_SOURCES})
  target_include_directories(netnsd_${name} PUBLIC ${view})
  foreach(layer ${LAYER_USES})
    target_link_libraries(netnsd_${name} PUBLIC netnsd_${layer})
  endforeach()
endfunction()
