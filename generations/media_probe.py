"""Probing media people upload: is it a complete, readable image or video, and what is it?

:func:`probe_image` and :func:`probe_video` refuse anything that is not a complete, readable
image or video with a :class:`MediaError` whose message can be shown to a person as is. Pure:
bytes (or a path) in, small value objects out. No Django.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from dataclasses import dataclass
from typing import IO, Any

import av
from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP", "GIF")
_IMAGE_MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "mpo": "image/jpeg",  # multi-picture JPEG (phone cameras): a JPEG as far as anyone cares
}
_MP4_DEMUXER = "mov"
_MATROSKA_DEMUXER = "matroska"
_ISO_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_VIDEO_MIME = {"mp4": "video/mp4", "mov": "video/quicktime", "webm": "video/webm"}

_TIMES = "\u00d7"  # the multiplication sign, as in "1920 x 1080" typeset properly
NOT_AN_IMAGE = "This file is not an image we can read."
DAMAGED_IMAGE = "This image file is damaged or incomplete, so it can't be read."
_NOT_A_VIDEO = "This file is not a video we can read (we accept MP4, MOV and WebM)."
DAMAGED_VIDEO = "This video file is damaged or incomplete, so it can't be played."
NO_VIDEO_TRACK = "This file has no video track."


# One full decode at a time in a process: at most max_pixels each (4 bytes a pixel, 8 for a
# deep video frame), the threads of one web worker wait here rather than each holding a
# picture's pixels: an image's, or a video's first frame.
_DECODING = threading.BoundedSemaphore(1)

# FFmpeg's stream probe, as a container is opened, would decode a first frame of whatever size
# before its header could be judged; allowed no decoder (none is called "none"), it reads the
# headers alone.
_NO_DECODER = {"codec_whitelist": "none"}


class MediaError(ValueError):
    """Media that can't be used; ``str(error)`` is a message fit to show to a person."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What :func:`probe_image` found out about an image file."""

    format: str  # "png", "jpeg", "webp" or "gif"
    mime_type: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What :func:`probe_video` found out about a video file."""

    format: str  # container: "mp4", "mov" or "webm"
    mime_type: str  # "video/mp4", "video/quicktime" or "video/webm"
    duration: float  # seconds
    width: int
    height: int
    fps: float
    codec: str = ""  # video codec, e.g. "h264"
    frames: int = 0  # number of video frames (0 when the container doesn't say)


# --------------------------------------------------------------------------------------------
# Geometry, colour and text helpers
# --------------------------------------------------------------------------------------------


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:g}"


def _pixel_limit(max_pixels: int) -> str:
    return f"the limit is {_megapixels(max_pixels)} megapixels."


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Image dimensions read from the header alone, bypassing Pillow's bomb check."""
    Image.init()
    prefix = data[:16]
    for name in IMAGE_FORMATS:
        factory, accept = Image.OPEN.get(name, (None, None))
        if factory is None or (accept is not None and not accept(prefix)):
            continue
        try:
            im = factory(io.BytesIO(data), "")
        except Exception:  # noqa: S112 - any parser failure just means "not this format"
            continue
        size = im.size
        im.close()
        return size
    return None


def probe_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Check that ``data`` is a complete PNG, JPEG, WebP or GIF of at most ``max_pixels``.

    The size is checked from the header *before* any pixel data is decoded, so a decompression
    bomb costs nothing; then the image is decoded to catch truncation and corruption: a JPEG at
    an eighth of its size (``draft``), the others whole, one at a time per process, so a process
    never holds more than one image's pixels however many uploads arrive at once.
    Raises :class:`MediaError` with a human message: not an image, damaged or incomplete, or
    too large ("This image is W x H pixels; the limit is N megapixels.", with a real
    multiplication sign).  Pillow's own ``DecompressionBombError`` is reported the same way;
    its ``DecompressionBombWarning`` is silenced because ``max_pixels`` is the authority.
    """
    limit = _pixel_limit(max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except UnidentifiedImageError as exc:
        raise MediaError(NOT_AN_IMAGE) from exc
    except Image.DecompressionBombError as exc:
        size = _header_size(data)
        if size is None:
            raise MediaError(f"This image has too many pixels; {limit}") from exc
        raise MediaError(f"This image is {size[0]}{_TIMES}{size[1]} pixels; {limit}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise MediaError(DAMAGED_IMAGE) from exc
    with im:
        width, height = im.size
        fmt = (im.format or "").lower()
        if width < 1 or height < 1:
            raise MediaError(DAMAGED_IMAGE)
        if width * height > max_pixels:
            raise MediaError(f"This image is {width}{_TIMES}{height} pixels; {limit}")
        if fmt in ("jpeg", "mpo"):
            # DCT scaling: decode at an eighth of each side (1/64 of the pixels). Every byte of
            # the file is still read, so truncation and corruption are still caught.
            im.draft(im.mode, ((width + 7) // 8, (height + 7) // 8))
        try:
            with _DECODING:
                im.load()
        except Exception as exc:  # Pillow raises a zoo of types for corrupt data.
            raise MediaError(DAMAGED_IMAGE) from exc
    if fmt not in _IMAGE_MIME:
        raise MediaError(NOT_AN_IMAGE)
    if fmt == "mpo":
        fmt = "jpeg"
    return ImageInfo(format=fmt, mime_type=_IMAGE_MIME[fmt], width=width, height=height)


def _sniff_video(head: bytes) -> str | None:
    """The demuxer to force for a file starting with ``head``, or None if it isn't a video."""
    if len(head) >= 8 and head[4:8] in _ISO_BMFF_BOXES:
        return _MP4_DEMUXER
    if head.startswith(_EBML_MAGIC):
        return _MATROSKA_DEMUXER
    return None


def _container_kind(demuxer: str, head: bytes, container: Any) -> str:
    if demuxer == _MATROSKA_DEMUXER:
        # The EBML header's DocType sits within the first few dozen bytes.
        return "webm" if b"webm" in head[:64] else "mkv"
    brand = str(container.metadata.get("major_brand", "")).strip()
    if head[4:8] != b"ftyp" or brand == "qt":
        return "mov"
    return "mp4"


def open_video_input(file: IO[bytes], head: bytes) -> tuple[Any, str]:
    """Open ``file`` with PyAV, forcing the demuxer the magic bytes point to.

    Forcing the demuxer (rather than letting FFmpeg probe) keeps playlist-style formats that
    can reference other files or URLs (HLS, concat, …) out of reach of uploaded data.  The
    streams are read from the container's headers alone; no frame is decoded yet.
    """
    demuxer = _sniff_video(head)
    if demuxer is None:
        raise MediaError(_NOT_A_VIDEO)
    try:
        container = av.open(file, "r", format=demuxer, container_options=_NO_DECODER)
    except av.FFmpegError as exc:
        raise MediaError(DAMAGED_VIDEO) from exc
    return container, demuxer


def _probe_open(file: IO[bytes], head: bytes, max_pixels: int | None) -> VideoInfo:
    container, demuxer = open_video_input(file, head)
    with container:
        kind = _container_kind(demuxer, head, container)
        if kind not in _VIDEO_MIME:
            raise MediaError(_NOT_A_VIDEO)
        if not container.streams.video:
            raise MediaError(NO_VIDEO_TRACK)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None:  # no usable decoder setup, e.g. the codec parameters were cut off
            raise MediaError(DAMAGED_VIDEO)
        width, height = int(ctx.width or 0), int(ctx.height or 0)
        if width < 1 or height < 1:
            raise MediaError(DAMAGED_VIDEO)
        options = {}
        if max_pixels is not None:
            if width * height > max_pixels:
                limit = _pixel_limit(max_pixels)
                raise MediaError(f"This video is {width}{_TIMES}{height} pixels; {limit}")
            # A frame larger than its header says (rows padded to FFmpeg's 64-byte stride) is
            # refused by the decoder before it is allocated: the header is what was judged.
            options = {"max_pixels": str((width + 63) * height)}
        declared = int(stream.frames or 0)
        packets = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.is_corrupt:
                    raise MediaError(DAMAGED_VIDEO)
                packets += 1
        except av.FFmpegError as exc:
            raise MediaError(DAMAGED_VIDEO) from exc
        if packets == 0 or (declared and packets < declared):
            raise MediaError(DAMAGED_VIDEO)
        if not _first_frame_decodes(file, head, options):
            raise MediaError(DAMAGED_VIDEO)
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = 0.0
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if duration <= 0 and fps > 0:
            duration = packets / fps
        return VideoInfo(
            format=kind,
            mime_type=_VIDEO_MIME[kind],
            duration=duration,
            width=width,
            height=height,
            fps=fps,
            codec=str(ctx.name or ""),
            frames=declared or packets,
        )


def _first_frame_decodes(file: IO[bytes], head: bytes, options: dict[str, str]) -> bool:
    """Whether the video's first frame decodes: in a container of its own, opened, decoded and
    closed in turn with the images (`_DECODING`), so that its frames (which a decoder keeps
    until its container closes) are freed before the next upload's are made."""
    file.seek(0)
    with _DECODING:
        container, _ = open_video_input(file, head)
        with container:
            stream = container.streams.video[0]
            stream.codec_context.options = options
            try:
                for packet in container.demux(stream):
                    if packet.size and stream.decode(packet):
                        return True
                return bool(stream.decode(None))
            except av.FFmpegError:
                return False


def probe_video(
    path_or_bytes: str | os.PathLike[str] | bytes, *, max_pixels: int | None
) -> VideoInfo:
    """Check that a file (path or bytes) is a complete, playable MP4, MOV or WebM video.

    A path is streamed, never read into memory whole.  Every packet of the first video stream is
    demuxed (not decoded) to detect truncation, and the first frame is decoded to prove the
    codec is readable.  As with :func:`probe_image`, the size is checked from the stream's
    header *before* that frame is decoded ("This video is W x H pixels; the limit is N
    megapixels."), a frame larger than the header says is refused as damaged, and a
    process decodes one first frame (or image) at a time.  ``None`` sets no limit, for video
    this process made or has already probed.  Raises :class:`MediaError` for: not a video,
    damaged or truncated, too large, or no video track.  A missing path raises
    ``FileNotFoundError`` as usual.
    """
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        data = bytes(path_or_bytes)
        return _probe_open(io.BytesIO(data), data[:64], max_pixels)
    with open(path_or_bytes, "rb") as fh:
        head = fh.read(64)
        fh.seek(0)
        return _probe_open(fh, head, max_pixels)
