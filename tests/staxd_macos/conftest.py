"""staxd-macos tests replay the backend's synthetic server trace: reuse its built server binary."""

from tests.backend_macos.conftest import server_binary

__all__ = ["server_binary"]
