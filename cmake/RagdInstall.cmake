# What `make install` (cmake --install BUILD --prefix PREFIX --strip) puts where:
#   PREFIX/bin/ragd                                  the binary (the web app is compiled in)
#   PREFIX/share/ragd/ragd.yaml                      the default settings, pristine
#   PREFIX/etc/ragd/ragd.yaml                        the same, only if none is there yet
#   PREFIX/share/bash-completion/completions/ragd    generated from the installed binary
#   PREFIX/lib/systemd/system/ragd.service           naming PREFIX's paths in ExecStart
#   PREFIX/lib/sysusers.d/ragd.conf                  the unit's system user
# The files whose content depends on PREFIX are written by RagdInstallFiles.cmake when
# installing, because `cmake --install --prefix` may name a prefix other than the configured
# CMAKE_INSTALL_PREFIX. DESTDIR is honoured throughout (file(INSTALL) prepends it).
include(GNUInstallDirs)

install(TARGETS ragd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/deploy/ragd.yaml DESTINATION ${CMAKE_INSTALL_DATADIR}/ragd)
# systemd reads PREFIX/lib/sysusers.d (never a multiarch libdir).
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/ragd-sysusers.conf DESTINATION lib/sysusers.d RENAME ragd.conf)

# What the install-time script needs from this configuration.
install(CODE "
  set(RAGD_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(RAGD_BINARY \"$<TARGET_FILE:ragd>\")
  set(RAGD_STAGING \"${PROJECT_BINARY_DIR}/install-staging\")
  set(RAGD_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
  set(RAGD_SYSCONFDIR \"${CMAKE_INSTALL_SYSCONFDIR}\")
  set(RAGD_DATADIR \"${CMAKE_INSTALL_DATADIR}\")
")
install(SCRIPT ${CMAKE_CURRENT_LIST_DIR}/RagdInstallFiles.cmake)
