# add_sp_library(name sources... DEPENDS targets... MLIR_LIBS libs...)
#
# A thin wrapper over add_mlir_library: the library is kept out of MLIR's own
# export set (we export it as SP::name from SPTargets instead) and its MLIR
# dependencies resolve to libMLIR.so through mlir_target_link_libraries.
set_property(GLOBAL PROPERTY SP_EXPORTED_LIBS "")
function(add_sp_library name)
  cmake_parse_arguments(ARG "" "" "DEPENDS;MLIR_LIBS;LINK_LIBS" ${ARGN})
  add_mlir_library(${name}
    ${ARG_UNPARSED_ARGUMENTS}
    EXCLUDE_FROM_LIBMLIR
    DISABLE_INSTALL
    DEPENDS ${ARG_DEPENDS}
  )
  if(ARG_MLIR_LIBS)
    mlir_target_link_libraries(${name} PUBLIC ${ARG_MLIR_LIBS})
  endif()
  if(ARG_LINK_LIBS)
    target_link_libraries(${name} PUBLIC ${ARG_LINK_LIBS})
  endif()
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${SP_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${SP_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:include>)
  # Downstream users include sp's headers, which include MLIR's.
  target_include_directories(${name} SYSTEM PUBLIC
    ${MLIR_INCLUDE_DIRS} ${LLVM_INCLUDE_DIRS})
  set_target_properties(${name} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(SP_ENABLE_SANITIZERS)
    # Whoever links an instrumented library needs the sanitizer runtimes.
    target_link_options(${name} INTERFACE -fsanitize=address,undefined)
  endif()
  set_property(GLOBAL APPEND PROPERTY SP_EXPORTED_LIBS ${name})
endfunction()
