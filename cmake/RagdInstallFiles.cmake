# Install-time part of cmake/RagdInstall.cmake: runs inside cmake_install.cmake, where
# CMAKE_INSTALL_PREFIX is the prefix being installed to and the RAGD_* variables were set
# by RagdInstall.cmake's install(CODE).

# A directory below PREFIX, or an absolute one given at configure time.
function(ragd_install_dir out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
ragd_install_dir(bindir "${RAGD_BINDIR}")
ragd_install_dir(confdir "${RAGD_SYSCONFDIR}/ragd")
ragd_install_dir(completiondir "${RAGD_DATADIR}/bash-completion/completions")
file(MAKE_DIRECTORY "${RAGD_STAGING}")

# The settings file belongs to the administrator once installed: never overwritten (the
# pristine default is in share/ragd).
if(EXISTS "$ENV{DESTDIR}${confdir}/ragd.yaml")
  message(STATUS "Keeping: $ENV{DESTDIR}${confdir}/ragd.yaml (the default is share/ragd/ragd.yaml)")
else()
  file(INSTALL DESTINATION "${confdir}" TYPE FILE FILES "${RAGD_SOURCE_DIR}/deploy/ragd.yaml")
endif()

# The unit in deploy/ names the default PREFIX, /usr/local; installed elsewhere it names
# that PREFIX's binary and settings.
file(READ "${RAGD_SOURCE_DIR}/deploy/systemd/ragd.service" unit)
string(REPLACE "/usr/local/bin/ragd" "${bindir}/ragd" unit "${unit}")
string(REPLACE "/usr/local/etc/ragd/" "${confdir}/" unit "${unit}")
file(WRITE "${RAGD_STAGING}/ragd.service" "${unit}")
file(INSTALL DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system" TYPE FILE
     FILES "${RAGD_STAGING}/ragd.service")

# Bash completion generated from the binary being installed, so that it offers exactly
# that binary's commands and options.
execute_process(COMMAND bash "${RAGD_SOURCE_DIR}/scripts/gen-completion" "${RAGD_BINARY}"
                OUTPUT_FILE "${RAGD_STAGING}/ragd" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "scripts/gen-completion ${RAGD_BINARY} failed (${rc}): bash completion not installed")
endif()
file(INSTALL DESTINATION "${completiondir}" TYPE FILE FILES "${RAGD_STAGING}/ragd")
