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
