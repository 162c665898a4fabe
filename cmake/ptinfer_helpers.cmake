# ptinfer_torch_pch: the one precompiled torch/torch.h that every LibTorch target reuses
# (parsing it costs ~20 s; building it once instead of once per target saves minutes).
function(ptinfer_torch_pch)
  add_library(ptinfer_torch_pch STATIC ${PROJECT_SOURCE_DIR}/cmake/torch_pch.cpp)
  target_include_directories(ptinfer_torch_pch PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(ptinfer_torch_pch PUBLIC ${TORCH_LIBRARIES})
  target_precompile_headers(ptinfer_torch_pch PRIVATE ${PROJECT_SOURCE_DIR}/src/common/torch_pch.h)
endfunction()

# ptinfer_globbed_sources(OUT SUBDIRS...): the folder's *.cpp files and those of SUBDIRS.
function(ptinfer_globbed_sources out)
  set(patterns ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  foreach(dir ${ARGN})
    list(APPEND patterns ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*.cpp)
  endforeach()
  file(GLOB srcs CONFIGURE_DEPENDS ${patterns})
  set(${out} ${srcs} PARENT_SCOPE)
endfunction()

# ptinfer_library(NAME [TORCH] [SUBDIRS ...] DEPS ...): a static library from the folder's
# *.cpp files (and those of SUBDIRS), leaving out *_test.cpp. TORCH adds LibTorch and its
# precompiled header.
function(ptinfer_library name)
  cmake_parse_arguments(ARG "TORCH" "" "DEPS;SUBDIRS" ${ARGN})
  ptinfer_globbed_sources(srcs ${ARG_SUBDIRS})
  list(FILTER srcs EXCLUDE REGEX "_test\\.cpp$")
  if(NOT srcs)  # a layer whose sources are not written yet
    add_library(${name} INTERFACE)
    target_include_directories(${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(${name} INTERFACE ${ARG_DEPS} $<$<BOOL:${ARG_TORCH}>:${TORCH_LIBRARIES}>)
    return()
  endif()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  if(ARG_TORCH)
    target_link_libraries(${name} PUBLIC ${TORCH_LIBRARIES})
    target_precompile_headers(${name} REUSE_FROM ptinfer_torch_pch)
  endif()
endfunction()

# ptinfer_tests(NAME [TORCH] [SUBDIRS ...] DEPS ... [FIXTURES ...] [ARGS ...]): one GoogleTest
# executable from the folder's *_test.cpp files (and those of SUBDIRS), registered with ctest
# (run with ARGS, e.g. a --gtest_filter). FIXTURES names ctest fixtures (scripts that generate
# PyTorch reference data) that must run first; tests find them in $PTINFER_FIXTURE_DIR.
function(ptinfer_tests name)
  cmake_parse_arguments(ARG "TORCH" "" "DEPS;FIXTURES;SUBDIRS;ARGS" ${ARGN})
  set(patterns ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  foreach(dir ${ARG_SUBDIRS})
    list(APPEND patterns ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/*_test.cpp)
  endforeach()
  file(GLOB srcs CONFIGURE_DEPENDS ${patterns})
  if(NOT srcs)
    return()
  endif()
  add_executable(${name} ${srcs})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  if(ARG_TORCH)
    target_precompile_headers(${name} REUSE_FROM ptinfer_torch_pch)
  endif()
  add_test(NAME ${name} COMMAND ${name} ${ARG_ARGS})
  ptinfer_test_environment(${name})
  if(ARG_FIXTURES)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED "${ARG_FIXTURES}")
  endif()
endfunction()

# ptinfer_test_environment(TEST): the variables every test finds its fixtures and binaries by,
# and PTINFER_SANITIZED (1 in the sanitizer build, 0 otherwise) for tests that take a smaller
# share of their cases there (the Release run takes them all).
function(ptinfer_test_environment test)
  if(PTINFER_SANITIZE)
    set(sanitized 1)
  else()
    set(sanitized 0)
  endif()
  set_tests_properties(${test} PROPERTIES
    ENVIRONMENT "PTINFER_FIXTURE_DIR=${PTINFER_FIXTURE_DIR};PTINFER_SOURCE_DIR=${PROJECT_SOURCE_DIR};PTINFER_BINARY_DIR=${CMAKE_BINARY_DIR};PTINFER_SANITIZED=${sanitized}")
endfunction()

# ptinfer_fixture(NAME SCRIPT [ARGS...]): a ctest fixture that runs SCRIPT with Debian's Python
# to write PyTorch/PIL reference data under ${PTINFER_FIXTURE_DIR}/NAME.
function(ptinfer_fixture name script)
  ptinfer_fixture_into(${name} ${name} ${script} ${ARGN})
endfunction()

# ptinfer_fixture_into(NAME DIR SCRIPT [ARGS...]): as ptinfer_fixture, writing into
# ${PTINFER_FIXTURE_DIR}/DIR (several fixtures may share one folder).
function(ptinfer_fixture_into name dir script)
  add_test(NAME fixture_${name}
    COMMAND ${PTINFER_PYTHON} ${script} --out ${PTINFER_FIXTURE_DIR}/${dir} ${ARGN})
  set_tests_properties(fixture_${name} PROPERTIES FIXTURES_SETUP ${name})
endfunction()
