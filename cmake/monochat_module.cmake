# Shared compile settings and the one-call module definition used by every src/<module>.

add_library(monochat_warnings INTERFACE)
target_compile_options(monochat_warnings INTERFACE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor)
# GCC 12 reports Asio's coroutine frame allocator (a custom operator new/delete pair) as
# mismatched once it inlines a coroutine at -O2; a known false positive.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(monochat_warnings INTERFACE -Wno-mismatched-new-delete)
endif()
if(MONOCHAT_WERROR)
  target_compile_options(monochat_warnings INTERFACE -Werror)
endif()
# Asio/Beast settings shared by every target so that objects agree on the ABI.
target_compile_definitions(monochat_warnings INTERFACE
  BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE)

if(MONOCHAT_SANITIZE)
  string(REPLACE "," ";" _san_list "${MONOCHAT_SANITIZE}")
  set(_san_flags "")
  foreach(_s IN LISTS _san_list)
    list(APPEND _san_flags "-fsanitize=${_s}")
  endforeach()
  target_compile_options(monochat_warnings INTERFACE ${_san_flags} -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(monochat_warnings INTERFACE ${_san_flags})
  # GCC's -Wmaybe-uninitialized gives false positives under -fsanitize=address (its
  # instrumentation hides initializations from the warning's analysis; GCC's manual says so),
  # e.g. on `co_return status{}` moving a boost::system::result. The plain build keeps it.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(monochat_warnings INTERFACE -Wno-maybe-uninitialized)
  endif()
endif()

if(MONOCHAT_BUILD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MONOCHAT_BUILD_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage instrumentation for everything; the fuzz targets alone link libFuzzer's main.
  target_compile_options(monochat_warnings INTERFACE -fsanitize=fuzzer-no-link)
  target_link_options(monochat_warnings INTERFACE -fsanitize=fuzzer-no-link)
  # clang 14 cannot emit UBSan's `function` check together with coverage instrumentation in
  # coroutines ("error: Cannot represent a difference across sections"); drop that one check.
  if(MONOCHAT_SANITIZE MATCHES "undefined")
    target_compile_options(monochat_warnings INTERFACE -fno-sanitize=function)
  endif()
endif()

# monochat_add_module(NAME storage SOURCES a.cpp b.cpp DEPS infra PRIVATE_DEPS RocksDB::rocksdb)
# gives the static library monochat_storage with alias monochat::storage. DEPS are other
# monochat modules (public), PRIVATE_DEPS are third-party targets used only in .cpp files.
function(monochat_add_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS;PUBLIC_LIBS;PRIVATE_DEPS" ${ARGN})
  set(target monochat_${M_NAME})
  set(_deps "")
  foreach(d IN LISTS M_DEPS)
    list(APPEND _deps monochat::${d})
  endforeach()
  if(NOT M_SOURCES)
    # A layer with no code yet is still a target, so that its dependants link against it.
    add_library(${target} INTERFACE)
    add_library(monochat::${M_NAME} ALIAS ${target})
    target_include_directories(${target} INTERFACE ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(${target} INTERFACE ${_deps} ${M_PUBLIC_LIBS} monochat_warnings)
    return()
  endif()
  add_library(${target} STATIC ${M_SOURCES})
  add_library(monochat::${M_NAME} ALIAS ${target})
  target_include_directories(${target}
    PUBLIC ${PROJECT_SOURCE_DIR}/include
    PRIVATE ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${target}
    PUBLIC ${_deps} ${M_PUBLIC_LIBS} monochat_warnings
    PRIVATE ${M_PRIVATE_DEPS})
endfunction()
