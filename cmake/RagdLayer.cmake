# ragd_layer(NAME DEPS...) builds src/<NAME>/*.cpp into the static library ragd_<NAME>.
# Files ending in _avx2.cpp / _avx512.cpp / _amx.cpp get the ISA flags they need; callers must only
# reach them through run-time CPU dispatch (see kernels/cpu_features.h).
function(ragd_layer name)
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(NOT srcs)
    # A layer with no code yet is still a target, so the layers above can link it.
    add_library(ragd_${name} INTERFACE)
    target_include_directories(ragd_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(ragd_${name} INTERFACE ${ARGN})
    return()
  endif()
  add_library(ragd_${name} STATIC ${srcs})
  target_include_directories(ragd_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(ragd_${name} PUBLIC ${ARGN})
  foreach(src ${srcs})
    if(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    elseif(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
        "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx512bf16")
    elseif(src MATCHES "_amx\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
        "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx512bf16;-mamx-tile;-mamx-int8;-mamx-bf16")
    endif()
  endforeach()
endfunction()

# ragd_test_suite(LAYER) builds tests/<LAYER>/*.cpp into test_<LAYER> and registers each
# GoogleTest case with ctest.
function(ragd_test_suite layer)
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${layer}/*.cpp)
  if(NOT srcs)
    return()
  endif()
  add_executable(test_${layer} ${srcs})
  target_link_libraries(test_${layer} PRIVATE ragd_${layer} GTest::gtest GTest::gtest_main)
  target_compile_definitions(test_${layer} PRIVATE
    RAGD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    RAGD_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
  gtest_discover_tests(test_${layer} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
endfunction()
