"""The smaller pictures the gallery shows: WebP thumbnails, video posters and hover previews.

Functions from a file on disk to files in a working directory (Pillow and PyAV); the archive
stores what they make. Any of them may fail on odd media: the original is kept anyway. Media
whose header says it is larger than LUMAWEB_UPLOAD_MAX_PIXELS is measured, never decoded (as an
upload of that size is refused): an output comes from Luma or a reseller's gateway, and its
frames would be decoded in the worker's memory.
"""

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
from django.conf import settings
from PIL import Image, ImageOps

GRID_SHORT_SIDE = 480  # the grid crops to a 4:3 tile, so the short side is what matters
GRID_LONG_SIDE = 1280
DETAIL_LONG_SIDE = 1600
PREVIEW_SECONDS = 2.0
PREVIEW_LONG_SIDE = 480
POSTER_AT = 1.0  # seconds in (or the middle of a shorter clip): past any fade from black
WEBP = {"format": "WEBP", "quality": 80, "method": 4}


@dataclass
class Renditions:
    """What was made (field name of `Output` → file in the working directory) and learnt."""

    files: dict[str, Path] = field(default_factory=dict)
    width: int | None = None
    height: int | None = None
    duration: float | None = None


def make(source: Path, *, is_video: bool, workdir: Path) -> Renditions:
    """Thumbnails for an image; poster, thumbnail and a short muted preview for a video."""
    if is_video:
        return _video(source, workdir)
    with Image.open(source) as opened:
        if _too_large(*opened.size):
            return Renditions(width=opened.width, height=opened.height)
        image = ImageOps.exif_transpose(opened)
        result = Renditions(width=image.width, height=image.height)
        image = _displayable(image)
        result.files["thumb"] = _webp(image, _grid_box(image.size), workdir / "thumb.webp")
        large = (DETAIL_LONG_SIDE, DETAIL_LONG_SIDE)
        result.files["thumb_large"] = _webp(image, large, workdir / "large.webp")
    return result


def _too_large(width: int, height: int) -> bool:
    return width * height > settings.LUMAWEB_UPLOAD_MAX_PIXELS


def _displayable(image: Image.Image) -> Image.Image:
    transparent = "A" in image.getbands() or "transparency" in image.info
    wanted = "RGBA" if transparent else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def _grid_box(size: tuple[int, int]) -> tuple[int, int]:
    """A bounding box that keeps the short side at GRID_SHORT_SIDE, the long side capped."""
    width, height = size
    scale = min(GRID_SHORT_SIDE / min(width, height), GRID_LONG_SIDE / max(width, height), 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _webp(image: Image.Image, box: tuple[int, int], path: Path) -> Path:
    copy = image.copy()
    copy.thumbnail(box, Image.Resampling.LANCZOS)
    copy.save(path, **WEBP)
    return path


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _video(source: Path, workdir: Path) -> Renditions:
    result = Renditions()
    poster: Image.Image | None = None
    preview_path = workdir / "preview.mp4"
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        result.width, result.height = int(ctx.width), int(ctx.height)
        if stream.duration is not None and stream.time_base is not None:
            result.duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            result.duration = container.duration / av.time_base
        if _too_large(result.width, result.height):
            return result
        poster_at = min(POSTER_AT, (result.duration or 0) / 2)
        rate = stream.average_rate or stream.guessed_rate or Fraction(24)
        fps = max(1, min(30, round(float(rate))))
        scale = min(1.0, PREVIEW_LONG_SIDE / max(result.width, result.height))
        size = _even(result.width * scale), _even(result.height * scale)
        with av.open(
            str(preview_path), "w", format="mp4", options={"movflags": "+faststart"}
        ) as out:
            encoder = out.add_stream("libx264", rate=fps)
            encoder.width, encoder.height, encoder.pix_fmt = *size, "yuv420p"
            encoder.options = {"preset": "veryfast", "crf": "30"}
            count = 0
            for frame in container.decode(stream):
                if _too_large(frame.width, frame.height):  # larger than its header said
                    break
                at = float(frame.time or 0.0)
                if poster is None and at >= poster_at:
                    poster = frame.to_image()
                if at < PREVIEW_SECONDS:
                    small = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                    small.pts, small.time_base = count, Fraction(1, fps)
                    out.mux(encoder.encode(small))
                    count += 1
                elif poster is not None:
                    break
            out.mux(encoder.encode(None))
    if poster is not None:
        still = poster.convert("RGB")
        result.files["thumb"] = _webp(still, _grid_box(still.size), workdir / "thumb.webp")
        poster_box = (DETAIL_LONG_SIDE, DETAIL_LONG_SIDE)
        result.files["poster"] = _webp(still, poster_box, workdir / "poster.webp")
    if count:
        result.files["preview"] = preview_path
    return result
