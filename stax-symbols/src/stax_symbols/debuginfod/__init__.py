"""debuginfod: fetching executables and debug files by build id from the servers in DEBUGINFOD_URLS."""
