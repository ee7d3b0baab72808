"""Generated media: the default videoframe's clips are title cards rendered by ffmpeg, never committed.

Each clip is a calm coloured card with the step's Dutch title (and the English one below it) over a soft tone,
H.264 + AAC in MP4, so libvlc plays it anywhere. Without ffmpeg nothing is generated; callers decide what that
means (the default videoframe then runs without clips).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from roomctl.errors import AdapterError

log = logging.getLogger(__name__)

FFMPEG_TIMEOUT_SECONDS = 120.0
"""Longest one clip may take to render before it counts as failed."""

CARD_COLOUR = "0x1d3557"
"""Background of the title cards (dark blue: calm, high contrast with white text)."""

TONE_HZ = 220
"""Frequency of the soft tone under the card."""

TONE_VOLUME = 0.1
"""Loudness of the tone (0..1)."""

TEXT_WIDTH_SHARE = 0.9
"""Share of the frame width the text may use."""

CHAR_WIDTH_EM = 0.62
"""Average glyph width of the card font, in ems (DejaVu Sans Bold), to fit text to the width."""

MIN_FONT_SIZE = 8
"""Smallest font size used, even when the text then runs off the card."""

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"),
)
"""Font files tried for the card text; when none exists ffmpeg's fontconfig picks a sans font."""


@dataclass(frozen=True)
class ClipSpec:
    """How generated clips look.

    Attributes:
        seconds: Length of each clip.
        width: Frame width in pixels.
        height: Frame height in pixels.
        rate: Frames per second.
    """

    seconds: float = 8.0
    width: int = 1280
    height: int = 720
    rate: int = 25


DEFAULT_CLIP_SPEC = ClipSpec()
"""What the default videoframe's clips look like in the room."""

TEST_CLIP_SPEC = ClipSpec(seconds=2.0, width=320, height=240)
"""Small, short clips for tests (renders in well under a second)."""


def ffmpeg_path() -> str | None:
    """The ffmpeg executable, or ``None`` when it is not installed."""
    return shutil.which("ffmpeg")


def ffmpeg_available() -> bool:
    """Whether clips can be generated here."""
    return ffmpeg_path() is not None


def _font_option() -> str:
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            return f"fontfile={candidate}"
    return "font=Sans"


def _fit(text: str, spec: ClipSpec, largest: int) -> int:
    """A font size at most ``largest`` at which ``text`` fits in the frame's width with a margin."""
    fitting = int(spec.width * TEXT_WIDTH_SHARE / (CHAR_WIDTH_EM * max(len(text), 1)))
    return max(MIN_FONT_SIZE, min(largest, fitting))


def _drawtext(textfile: Path, size: int, y: str) -> str:
    return (
        f"drawtext={_font_option()}:textfile={textfile}:fontcolor=white:fontsize={size}"
        f":x=(w-text_w)/2:y={y}"
    )


def generate_clip(out: Path, title: str, subtitle: str = "", spec: ClipSpec = DEFAULT_CLIP_SPEC) -> Path:
    """Render one title-card clip to ``out`` (an ``.mp4``), creating its folder.

    Args:
        out: Where the clip goes; an existing file is replaced.
        title: The large text (the step's Dutch title).
        subtitle: The smaller text below it (the English title), optional.
        spec: Length and size.

    Raises:
        AdapterError: ffmpeg is missing, fails or takes too long.
    """
    ffmpeg = ffmpeg_path()
    if ffmpeg is None:
        raise AdapterError("ffmpeg is not installed; install it (apt-get install ffmpeg) to generate clips")
    out.parent.mkdir(parents=True, exist_ok=True)
    title_size = _fit(title, spec, spec.height // 12)
    with tempfile.TemporaryDirectory(prefix="roomctl-card-") as tmp:
        # Texts go through files: drawtext's own escaping of quotes and colons is error-prone.
        title_file = Path(tmp) / "title.txt"
        title_file.write_text(title, encoding="utf-8")
        filters = [_drawtext(title_file, title_size, "(h-text_h)/2-text_h")]
        if subtitle:
            subtitle_file = Path(tmp) / "subtitle.txt"
            subtitle_file.write_text(subtitle, encoding="utf-8")
            filters.append(_drawtext(subtitle_file, _fit(subtitle, spec, title_size * 2 // 3), "(h/2)+text_h"))
        partial = Path(tmp) / "clip.mp4"
        command = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
            "-f", "lavfi", "-i", f"color=c={CARD_COLOUR}:size={spec.width}x{spec.height}:rate={spec.rate}"
            f":duration={spec.seconds}",
            "-f", "lavfi", "-i", f"sine=frequency={TONE_HZ}:duration={spec.seconds}",
            "-vf", ",".join(filters),
            "-af", f"volume={TONE_VOLUME}",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", "-movflags", "+faststart",
            str(partial),
        ]  # fmt: skip
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=FFMPEG_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise AdapterError(f"ffmpeg took longer than {FFMPEG_TIMEOUT_SECONDS:.0f} s to render {out.name}") from None
        if result.returncode != 0:
            raise AdapterError(f"ffmpeg could not render {out.name}: {result.stderr.strip()[-500:]}")
        shutil.move(partial, out)
    log.debug("generated clip %s (%s)", out, title)
    return out


MEDIA_CACHE_ENV = "ROOMCTL_MEDIA_CACHE"
"""Folder where generated clips are kept between installs (default ``~/.cache/roomctl/media``)."""


def cache_dir() -> Path | None:
    """The generated-clip cache, or ``None`` when it cannot be used (read-only home under systemd)."""
    configured = os.environ.get(MEDIA_CACHE_ENV)
    folder = Path(configured) if configured else Path.home() / ".cache" / "roomctl" / "media"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def cached_clip(out: Path, key: str, title: str, subtitle: str, spec: ClipSpec = DEFAULT_CLIP_SPEC) -> Path:
    """Like :func:`generate_clip`, but reuses a clip generated before for the same ``key`` and ``spec``."""
    folder = cache_dir()
    if folder is None:
        return generate_clip(out, title, subtitle, spec)
    name = f"{key}-{spec.width}x{spec.height}-{spec.seconds:g}s-{spec.rate}fps{out.suffix}"
    cached = folder / name
    if not cached.exists():
        partial = folder / f".{name}.{os.getpid()}.part{out.suffix}"
        generate_clip(partial, title, subtitle, spec)
        os.replace(partial, cached)
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(cached, out)
    return out
