# Installs headers, libraries, tools and a CMake package so that downstream
# compilers can do:
#   find_package(SP REQUIRED CONFIG)
#   target_link_libraries(mycompiler PRIVATE SP::SPRegistration)
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

get_property(sp_libs GLOBAL PROPERTY SP_EXPORTED_LIBS)
install(TARGETS ${sp_libs}
  EXPORT SPTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS sp-opt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS SPPlugin LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/sp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
install(DIRECTORY ${SP_BINARY_DIR}/include/sp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.inc" PATTERN "*.h" PATTERN "CMakeFiles" EXCLUDE)

set(SP_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sp)
install(EXPORT SPTargets NAMESPACE SP:: DESTINATION ${SP_CMAKE_INSTALL_DIR})
configure_package_config_file(cmake/SPConfig.cmake.in
  ${SP_BINARY_DIR}/SPConfig.cmake
  INSTALL_DESTINATION ${SP_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${SP_BINARY_DIR}/SPConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${SP_BINARY_DIR}/SPConfig.cmake ${SP_BINARY_DIR}/SPConfigVersion.cmake
  DESTINATION ${SP_CMAKE_INSTALL_DIR})

# sp-run and the runtimes it loads (sp-run finds libsp_cuda_runtime.so in
# ../lib relative to itself). The CUDA runtime's headers are its C API
# (CudaRuntime.h), the kernels' (Kernels.h) and the ABI of lowered code
# (CompiledABI.h).
install(TARGETS sp-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS sp_cuda_runtime_emulated LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(SP_CUDA)
  install(TARGETS sp_cuda_runtime sp_cuda_kernels
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES runtime/cuda/CudaRuntime.h runtime/cuda/Kernels.h
    runtime/cuda-abi/CompiledABI.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sp/Runtime/cuda)
endif()
