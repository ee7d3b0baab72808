"""Control of libvlc for one clip at a time: load, play, pause, restart, stop, and an honest status.

libvlc calls happen on the caller's thread; libvlc's own event thread only sets flags here and calls
``on_change`` (which must hand over to the caller's thread, e.g. with ``loop.call_soon_threadsafe``). Two
libvlc facts shape this class (see FIELD-NOTES): ``play()`` after Ended does nothing unless ``stop()`` comes
first, and a missing file fires ``MediaPlayerEncounteredError`` while the polled state says Ended, so the error
is taken from the event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import vlc

log = logging.getLogger(__name__)

DUMMY_ARGS = ("--vout=dummy", "--aout=dummy")
"""libvlc outputs that draw and sound nothing (tests, CI, a Pi without projector)."""

BASE_ARGS = ("--quiet", "--no-video-title-show", "--no-osd")
"""libvlc arguments always used: no console noise, no file name over the video."""

URL_SCHEMES = frozenset({"http", "https", "file", "rtsp"})
"""Clip sources that are URLs; anything else is a local path."""

STATES = ("idle", "playing", "paused", "ended", "error")
"""What :attr:`PlayerStatus.state` can be; ``idle`` means no clip is loaded."""


@dataclass(frozen=True)
class PlayerStatus:
    """What the player is doing now.

    Attributes:
        clip: The loaded clip's source, or ``None``.
        state: One of :data:`STATES`.
        position_ms: Playback position (the length once ended; 0 before start).
        length_ms: The clip's length, ``None`` until libvlc knows it.
        error: Why playback failed, when ``state`` is ``error``.
    """

    clip: str | None
    state: str
    position_ms: int
    length_ms: int | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return asdict(self)


class ClipPlayer:
    """One libvlc media player showing one clip at a time, full screen unless ``dummy``.

    Args:
        dummy: Use libvlc's dummy video and audio outputs (no window, no sound).
        extra_args: More libvlc arguments (e.g. ``--vout=drm`` on a Pi without a desktop).
        on_change: Called from libvlc's thread when playback starts, pauses, ends or fails (may be set later).
    """

    def __init__(
        self,
        *,
        dummy: bool = False,
        extra_args: Sequence[str] = (),
        on_change: Callable[[], None] | None = None,
    ) -> None:
        args = [*BASE_ARGS, *(DUMMY_ARGS if dummy else ("--fullscreen",)), *extra_args]
        instance = vlc.Instance(args)
        if instance is None:
            raise RuntimeError(f"libvlc could not start with arguments {args}; is VLC (libvlc) installed?")
        self._instance = instance
        self._player = instance.media_player_new()
        self._dummy = dummy
        self.on_change = on_change
        self._lock = threading.Lock()
        self._src: str | None = None
        self._want_play = False
        self._ended = False
        self._error: str | None = None
        events = self._player.event_manager()
        events.event_attach(vlc.EventType.MediaPlayerEndReached, self._vlc_ended)
        events.event_attach(vlc.EventType.MediaPlayerEncounteredError, self._vlc_error)
        events.event_attach(vlc.EventType.MediaPlayerPlaying, self._vlc_changed)
        events.event_attach(vlc.EventType.MediaPlayerPaused, self._vlc_changed)
        events.event_attach(vlc.EventType.MediaPlayerLengthChanged, self._vlc_changed)

    # libvlc's event thread: set flags only, never call back into libvlc.
    def _vlc_ended(self, _event: Any) -> None:
        with self._lock:
            self._ended = True
        self._notify()

    def _vlc_error(self, _event: Any) -> None:
        with self._lock:
            src = self._src or ""
            missing = not _is_url(src) and not Path(src).exists()
            self._error = f"cannot play {src}" + (" (the file does not exist)" if missing else "")
        self._notify()

    def _vlc_changed(self, _event: Any) -> None:
        self._notify()

    def _notify(self) -> None:
        callback = self.on_change
        if callback is not None:
            try:
                callback()
            except Exception:
                log.exception("player on_change callback failed")

    @property
    def clip(self) -> str | None:
        """The loaded clip's source, or ``None``."""
        return self._src

    def load(self, src: str, *, play: bool = True) -> None:
        """Load ``src`` (a local path or an http/https/file URL), starting it if ``play``, else at its start, paused."""
        self._player.stop()
        media = self._instance.media_new(src) if _is_url(src) else self._instance.media_new_path(src)
        self._player.set_media(media)
        media.release()
        with self._lock:
            self._src = src
            self._ended = False
            self._error = None
        self._want_play = play
        if not self._dummy:
            self._player.set_fullscreen(True)
        if play:
            self._player.play()
        log.info("loaded clip %s (%s)", src, "playing" if play else "paused")

    def play(self) -> None:
        """Resume; a clip that ended or failed starts again from the beginning."""
        if self._src is None:
            return
        if self._ended or self._error is not None:
            self.restart(play=True)
            return
        self._want_play = True
        self.sync()

    def pause(self) -> None:
        """Pause (a no-op when nothing plays)."""
        self._want_play = False
        self.sync()

    def restart(self, *, play: bool = True) -> None:
        """Go back to the start of the clip; play it if ``play``, else wait there."""
        if self._src is None:
            return
        self._player.stop()
        with self._lock:
            self._ended = False
            self._error = None
        self._want_play = play
        if play:
            self._player.play()

    def stop(self) -> None:
        """Stop and unload the clip (the video window closes)."""
        self._player.stop()
        self._player.set_media(None)
        with self._lock:
            self._src = None
            self._ended = False
            self._error = None
        self._want_play = False

    def sync(self) -> None:
        """Bring libvlc to the wanted play/pause state (a pause asked while the clip was opening lands here)."""
        if self._src is None or self._ended or self._error is not None:
            return
        state = self._player.get_state()
        if self._want_play and state == vlc.State.Paused:
            self._player.set_pause(0)
        elif self._want_play and state in (vlc.State.Stopped, vlc.State.NothingSpecial):
            self._player.play()
        elif not self._want_play and state in (vlc.State.Playing, vlc.State.Opening, vlc.State.Buffering):
            self._player.set_pause(1)

    def status(self) -> PlayerStatus:
        """What the player is doing now."""
        with self._lock:
            src, ended, error = self._src, self._ended, self._error
        if src is None:
            return PlayerStatus(None, "idle", 0, None)
        length = self._player.get_length()
        length_ms = length if length > 0 else None
        position = max(self._player.get_time(), 0)
        if error is not None:
            return PlayerStatus(src, "error", position, length_ms, error)
        vlc_state = self._player.get_state()
        if ended or vlc_state == vlc.State.Ended:
            return PlayerStatus(src, "ended", length_ms or position, length_ms)
        if vlc_state == vlc.State.Error:
            return PlayerStatus(src, "error", position, length_ms, f"cannot play {src}")
        # Between play() and libvlc's first state change the state is still NothingSpecial (longer on a busy CPU)
        starting = self._want_play and vlc_state in (vlc.State.NothingSpecial, vlc.State.Opening, vlc.State.Buffering)
        if vlc_state == vlc.State.Playing or starting:
            return PlayerStatus(src, "playing", position, length_ms)
        return PlayerStatus(src, "paused", position, length_ms)

    def close(self) -> None:
        """Stop and release libvlc."""
        self._player.stop()
        self._player.release()
        self._instance.release()


def _is_url(src: str) -> bool:
    return urlparse(src).scheme.lower() in URL_SCHEMES
