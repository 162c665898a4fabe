# ptinfer_startup_link_order(TARGET): lists the shared libraries named in
# cmake/startup_link_order.txt first among TARGET's DT_NEEDED entries, so the dynamic loader
# finds most symbols early in its scope (tools/startup_link_order.py says why and how the list
# is made). Each soname is looked up in the system's library folders; one that is missing is
# left out with a message (the order only saves start-up time; it changes no binding). The
# sonames used are returned in PTINFER_STARTUP_FRONT for the test that checks the order.
# Sanitizer and fuzzing builds keep the default order: their runtimes must come first.
function(ptinfer_startup_link_order target)
  set(front "")
  if(NOT (PTINFER_SANITIZE OR PTINFER_FUZZ))
    file(STRINGS ${PROJECT_SOURCE_DIR}/cmake/startup_link_order.txt sonames REGEX "^[^#]")
    set(paths "")
    foreach(soname ${sonames})
      unset(path CACHE)
      find_file(path NAMES ${soname} NO_DEFAULT_PATH
                PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE} /lib/${CMAKE_LIBRARY_ARCHITECTURE}
                      /usr/lib /lib)
      if(path)
        list(APPEND paths ${path})
        list(APPEND front ${soname})
      else()
        message(STATUS "startup link order: ${soname} not found, left out")
      endif()
    endforeach()
    unset(path CACHE)
    if(paths)
      target_link_options(${target} BEFORE PRIVATE LINKER:--push-state,--no-as-needed ${paths}
                          LINKER:--pop-state)
    endif()
  endif()
  set(PTINFER_STARTUP_FRONT ${front} PARENT_SCOPE)
endfunction()
