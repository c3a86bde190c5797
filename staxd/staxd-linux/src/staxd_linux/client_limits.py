"""What staxd holds for its clients, per user: connections and file descriptors.

One member must not be able to lock the others out.  Without limits, a member's idle
connections filled every slot, and grants it did not read pinned the daemon's fds
until the daemon ran out and refused everyone else with false sentences.  So:

* ``max_clients`` connections are served at once, ``max_clients_per_user`` of them
  (and of the connections whose grants are still unread) by one user; root has no
  per-user limit;
* every fd of a grant is charged to its user from the moment the daemon decides to
  open it until the client has read it (or hung up): in the daemon's table, or in
  flight in the socket, it is the daemon's to account for.  One user may have
  ``max_fds_per_user`` charged; all users together no more than the daemon's
  RLIMIT_NOFILE (read at each check, so ``prlimit`` on the daemon takes effect)
  minus what it had at start, its connections and :data:`RESERVE_FDS` for its own
  work (pidfds, /proc and NSS reads).

Every limit reached is a :class:`LimitReached` whose text is a sentence saying what
to do, usually to retry in a moment.
"""

from __future__ import annotations

import resource
import threading

import attrs

from staxd_linux.policy import Policy

RESERVE_FDS = 128
"""Headroom kept for the daemon's own fds: a request's pidfds (up to 64), /proc files, NSS, tracefs."""

SHORT_OF_FDS = "staxd is short of file descriptors right now; try again in a moment."


class LimitReached(Exception):
    """A limit stops this connection or request now; ``str()`` is the sentence for the client."""


@attrs.define(slots=True)
class _Usage:
    connections: int = 0
    fds: int = 0


class ClientLimits:
    """The counters behind every limit, shared by the connection threads (one lock)."""

    def __init__(self, policy: Policy, baseline_fds: int) -> None:
        self.policy = policy
        self.baseline_fds = baseline_fds
        """fds the daemon had open before serving anyone (listener, log, std streams)"""
        self.served = 0
        """connections with a thread serving them (max_clients)"""
        self.sockets = 0
        """connection sockets the daemon holds, served or lingering until their grants are read"""
        self.charged = 0
        self._users: dict[int, _Usage] = {}
        self._lock = threading.Lock()

    def _fd_limit(self) -> int:
        return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    def _fds_free(self) -> int:
        return self._fd_limit() - self.baseline_fds - self.sockets - self.charged - RESERVE_FDS

    # -- connections ----------------------------------------------------------------------------

    def connect(self, uid: int) -> None:
        """Take a served slot for a new connection of ``uid``, or raise LimitReached."""
        policy = self.policy
        with self._lock:
            usage = self._users.setdefault(uid, _Usage())
            try:
                if self.served >= policy.max_clients:
                    raise LimitReached(f"staxd is serving {policy.max_clients} clients already; try again in "
                                       f"a moment.")
                if uid != 0 and usage.connections >= policy.max_clients_per_user:
                    raise LimitReached(f"you have {usage.connections} connections to staxd open already, the "
                                       f"most its policy allows one user (max_clients_per_user in "
                                       f"{policy.source}); close one or try again in a moment.")
                if self._fds_free() < 1:
                    raise LimitReached(SHORT_OF_FDS)
            except LimitReached:
                self._forget_if_idle(uid, usage)
                raise
            self.served += 1
            self.sockets += 1
            usage.connections += 1

    def stop_serving(self) -> None:
        """The connection's thread is done; its socket may linger (see :meth:`disconnect`)."""
        with self._lock:
            self.served -= 1

    def disconnect(self, uid: int) -> None:
        """The connection's socket is closed."""
        with self._lock:
            self.sockets -= 1
            usage = self._users[uid]
            usage.connections -= 1
            self._forget_if_idle(uid, usage)

    # -- file descriptors -----------------------------------------------------------------------

    def charge(self, uid: int, fds: int) -> None:
        """Charge ``fds`` about to be opened for ``uid``, or raise LimitReached."""
        policy = self.policy
        with self._lock:
            usage = self._users[uid]
            if uid != 0 and usage.fds + fds > policy.max_fds_per_user:
                raise LimitReached(
                    f"staxd still holds {usage.fds} file descriptors of yours that your connections have not "
                    f"read, and this request needs {fds} more, over max_fds_per_user "
                    f"({policy.max_fds_per_user} in {policy.source}); read those replies or close those "
                    f"connections, then try again.")
            if fds > self._fds_free():
                raise LimitReached(f"staxd is short of file descriptors right now (this request needs "
                                   f"{fds}); try again in a moment, or ask for fewer pids or cpus.")
            usage.fds += fds
            self.charged += fds

    def release(self, uid: int, fds: int) -> None:
        """The client has read ``fds`` charged fds, or they were closed without being sent."""
        if fds <= 0:
            return
        with self._lock:
            usage = self._users[uid]
            usage.fds -= fds
            self.charged -= fds
            self._forget_if_idle(uid, usage)

    def _forget_if_idle(self, uid: int, usage: _Usage) -> None:
        if usage.connections == 0 and usage.fds == 0:
            self._users.pop(uid, None)
