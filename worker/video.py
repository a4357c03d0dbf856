"""The pipeline steps of a video (DESIGN §12): decode a few frames with FFmpeg (PyAV, worker
only: the web process never imports it), read the container's metadata, and, when a browser
cannot play the original, make a web-playable rendition.

The original is never read whole into memory nor written in clear to disk: PyAV reads it
through `BlobFile`, which decrypts only the 64 KiB SPV1 chunks the demuxer asks for.

Caps per decode (like the pixel cap of photos): a frame may have at most
VAULT_VIDEO_MAX_FRAME_PIXELS pixels, and each decode (frames, rendition) stops after
VAULT_VIDEO_DECODE_SECONDS of wall time. A rendition gets that plus RENDITION_PACE seconds per
second of video, counted on what it has decoded so far (a container may claim any duration:
the claim alone buys no time), and never more than the claimed duration allows. A motion clip
(Live Photo MOV, motion photo) longer than MOTION_MAX_SECONDS is not rendered.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
import struct
import time
from dataclasses import dataclass, field

import av
from django.conf import settings
from PIL import Image

from vault.crypto import container as spv1
from vault.photos import storage
from vault.photos.models import Blob, LiveCandidate, Photo
from worker import metadata, thumbnails

log = logging.getLogger(__name__)

# Where the frames for tags and faces come from: the poster (the first frame) and keyframes at
# these fractions of the duration (the issue asks for "keyframes spread over its length").
SAMPLE_FRACTIONS = (0.0, 0.25, 0.5, 0.75)
# What browsers play without a rendition (Chromium, Firefox, Safari all decode these in these
# containers). FFmpeg's names: demuxer "mov,mp4,m4a,3gp,3g2,mj2" for the ISO family.
_PLAYABLE = {
    "mp4": ({"h264"}, {"aac", "mp3"}),
    "webm": ({"vp8", "vp9", "av1"}, {"opus", "vorbis"}),
}
RENDITION_LONG_SIDE = 1920  # ≤ 1080p (landscape 1920×1080, portrait 1080×1920)
# The sampled frames are scaled to at most this long side by the decoder's scaler (swscale), so
# a 4K frame is never held as a 25 MB RGB picture: the preview is 1600 px and the face detector
# tiles pictures from 1200 px, so 1080p-sized frames lose them nothing.
FRAME_LONG_SIDE = 1920
RENDITION_CRF = "23"  # libx264's default quality
# Wall-time seconds a rendition may spend per second of video it has decoded: libx264
# "veryfast" re-encodes 1080p at several times real time on the 2-core i5, and 4K HEVC decodes
# at about real time (bench/video.py), so twice real time fails only a stream built to be slow.
RENDITION_PACE = 2.0
# A Live Photo's MOV is about 3 s (1.5 s either side of the still) and motion photos' clips
# 1-3 s; 30 s leaves room for edited or exported ones. A clip claiming more is not a motion
# clip worth a worker's minutes: it is kept (downloadable) but not rendered.
MOTION_MAX_SECONDS = 30
RENDITION_MEDIA_TYPE = "video/mp4"


class VideoUnreadable(Exception):
    """The video cannot be processed; str(error) is shown to its owner."""


class BlobFile(io.RawIOBase):
    """A read-only, seekable file over an open SPV1 BlobReader's plaintext: each read decrypts
    only the chunk it needs (one chunk kept, so the demuxer's small reads cost one decryption
    per 64 KiB)."""

    def __init__(self, reader: spv1.BlobReader) -> None:
        self._reader = reader
        self._length = reader.plaintext_length
        self._pos = 0
        self._index = -1
        self._chunk = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:
        if self._pos >= self._length:
            return 0
        index = self._pos // spv1.CHUNK
        if index != self._index:
            start = index * spv1.CHUNK
            end = min(start + spv1.CHUNK, self._length)
            self._chunk = b"".join(self._reader.iter_plaintext(start, end))
            self._index = index
        offset = self._pos - index * spv1.CHUNK
        piece = self._chunk[offset : offset + len(buffer)]
        buffer[: len(piece)] = piece
        self._pos += len(piece)
        return len(piece)


@dataclass
class VideoFacts:
    """What the container says, read by `video_decode`."""

    duration: float | None  # seconds
    width: int  # upright (rotation applied)
    height: int
    rotation: int  # degrees counter-clockwise applied to the stored frames (display matrix)
    codec: str  # FFmpeg decoder name: h264, hevc, vp9, ...
    audio_codec: str | None
    container: str  # FFmpeg demuxer name
    tags: dict[str, str] = field(default_factory=dict, repr=False)  # GPS inside: never logged
    playable: bool = False  # a browser plays the original as it is


def _deadline_check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise VideoUnreadable(
            "Reading this video took too long, so the server stopped (it may be damaged or "
            "encoded in a way that is very slow to decode)."
        )


def _open(source) -> av.container.InputContainer:
    try:
        return av.open(source, mode="r", metadata_errors="replace")
    except av.error.InvalidDataError:
        raise VideoUnreadable(
            "This file is not a video the vault can read: its content is damaged or it only "
            "claims to be a video."
        ) from None
    except av.FFmpegError:
        raise VideoUnreadable("This video is damaged: its container cannot be read.") from None


def frame_size(width: int, height: int) -> tuple[int, int]:
    """The size a sampled frame is decoded to: at most FRAME_LONG_SIDE on its long side."""
    scale = min(1.0, FRAME_LONG_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _upright(frame: av.VideoFrame) -> Image.Image:
    # Scaled and converted to RGB24 in one swscale pass: no full-size RGB copy.
    width, height = frame_size(frame.width, frame.height)
    image = frame.to_image(width=width, height=height)
    rotation = round(frame.rotation or 0) % 360
    if rotation:
        # The display matrix's angle is counter-clockwise, like PIL's rotate().
        image = image.rotate(rotation, expand=True)
    return image


def _frame_at(decoded, target: int | None, deadline: float):
    """The first frame decoded at or after `target` (stream time base; None: the first frame),
    or the last one before the stream ends; None when none decodes. With the decoder set to
    skip all but keyframes, the first frame after a seek is the keyframe before `target`."""
    last = None
    for frame in decoded:
        _deadline_check(deadline)
        if target is None or frame.pts is None or frame.pts >= target:
            return frame
        last = frame
    return last


def video_decode(source, *, deadline: float) -> tuple[VideoFacts, list[Image.Image]]:
    """Read a video's facts and up to len(SAMPLE_FRACTIONS) upright RGB frames (the first is
    the poster): the keyframes at or before SAMPLE_FRACTIONS of the duration, scaled to at
    most FRAME_LONG_SIDE px (the facts keep the full size). `source` is a path or a seekable
    binary file. Raises VideoUnreadable with a message for the owner (no video track, unknown
    codec, too many pixels, damaged)."""
    with _open(source) as box:
        if not box.streams.video:
            raise VideoUnreadable("This file has no picture track: it is not a video.")
        stream = box.streams.video[0]
        context = stream.codec_context
        codec = getattr(context, "name", None) or ""
        if not codec or codec not in av.codecs_available:
            # FFmpeg opens no codec context for a codec it does not know (PyAV gives None).
            named = f" ({codec})" if codec else ""
            raise VideoUnreadable(
                f"This video is encoded with a codec{named} this server's decoder cannot read. "
                "Convert it to H.264 MP4 and upload that."
            )
        width, height = context.width, context.height
        if width * height > settings.VAULT_VIDEO_MAX_FRAME_PIXELS:
            raise VideoUnreadable(
                f"This video is {width} × {height} pixels a frame; the vault accepts up to "
                f"{settings.VAULT_VIDEO_MAX_FRAME_PIXELS / 1e6:g} megapixels."
            )
        context.thread_count = max(1, settings.VAULT_ML_THREADS)
        # Keyframes only: a seek lands on one, and decoding the group of pictures up to the
        # exact moment cost seconds a frame on 4K HEVC (x265's default GOP is 250 frames).
        context.skip_frame = "NONKEY"
        duration = None
        if box.duration:
            duration = box.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        audio = box.streams.audio[0].codec_context.name if box.streams.audio else None
        tags = {**{k: v for k, v in stream.metadata.items()}, **dict(box.metadata)}
        frames, rotation, seen = [], 0, set()
        try:
            for fraction in SAMPLE_FRACTIONS:
                if fraction and not duration:
                    break
                target = None
                if fraction:
                    target = int(fraction * duration / stream.time_base) + (stream.start_time or 0)
                    box.seek(target, stream=stream, backward=True)
                frame = _frame_at(box.decode(stream), None, deadline)
                if frame is not None and frame.pts is not None and frame.pts in seen:
                    # A group of pictures longer than the step between fractions (one keyframe
                    # for the whole clip, as some encoders write): decode up to the moment.
                    context.skip_frame = "DEFAULT"
                    box.seek(target, stream=stream, backward=True)
                    frame = _frame_at(box.decode(stream), target, deadline)
                    context.skip_frame = "NONKEY"
                if frame is None:
                    break
                seen.add(frame.pts)
                if not frames:
                    rotation = round(frame.rotation or 0) % 360
                    width, height = frame.width, frame.height  # as decoded, before scaling
                frames.append(_upright(frame))
        except av.FFmpegError as error:
            if not frames:
                raise VideoUnreadable(_damaged(error)) from None
            log.info(
                "video: frames after the first could not be decoded (%s)", type(error).__name__
            )
        if not frames:
            raise VideoUnreadable(
                "This video is truncated or damaged: not one picture could be decoded from it."
            )
        # The decoded size, not the (scaled) frames': the photo's width and height.
        upright = (height, width) if rotation in (90, 270) else (width, height)
        kind = box.format.name
    family = "mp4" if "mp4" in kind.split(",") else ("webm" if "webm" in kind else kind)
    videos, audios = _PLAYABLE.get(family, (set(), set()))
    facts = VideoFacts(
        duration=duration,
        width=upright[0],
        height=upright[1],
        rotation=rotation,
        codec=codec,
        audio_codec=audio,
        container=kind,
        tags=tags,
        playable=codec in videos and (audio is None or audio in audios),
    )
    return facts, frames


def _damaged(error: Exception) -> str:
    # FFmpeg's error class names nothing the owner can act on: logged, not shown.
    log.info("video: no picture could be decoded (%s)", type(error).__name__)
    return "This video is damaged or truncated: its picture data cannot be decoded."


# -- pipeline steps -----------------------------------------------------------------------


def decode(work) -> None:
    """The video's `decode` step: facts and frames; the poster is the picture of later steps."""
    deadline = time.monotonic() + settings.VAULT_VIDEO_DECODE_SECONDS
    try:
        facts, frames = video_decode(BlobFile(work.original_reader), deadline=deadline)
    except VideoUnreadable as error:
        from worker.pipeline import PhotoUnreadable  # worker.pipeline imports this module

        raise PhotoUnreadable(str(error)) from None
    work.video = facts
    work.frames = frames
    work.image = frames[0]


_ISO6709 = re.compile(r"^([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)([+-]\d+(?:\.\d+)?)?")


def _place(tags: dict[str, str]) -> dict:
    """latitude/longitude/altitude from QuickTime's ISO 6709 location ("+48.8577+002.2950+035/")."""
    text = tags.get("com.apple.quicktime.location.ISO6709") or tags.get("location") or ""
    found = _ISO6709.match(text.strip())
    if not found:
        return {}
    latitude, longitude = float(found[1]), float(found[2])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or (latitude, longitude) == (0, 0):
        return {}
    place = {"latitude": latitude, "longitude": longitude}
    if found[3]:
        place["altitude"] = round(float(found[3]), 1)
    return place


def capture_time(tags: dict[str, str]) -> dt.datetime | None:
    """The capture moment: QuickTime's creation date (local time with its offset, iPhones) or
    the mvhd creation_time FFmpeg reports (UTC). None when absent or implausible (an
    unset clock writes 1904-01-01 or 1970-01-01)."""
    for key in ("com.apple.quicktime.creationdate", "creation_time"):
        text = (tags.get(key) or "").strip()
        if not text:
            continue
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        if metadata._plausible(moment):
            return moment
    return None


def read_metadata(work) -> None:
    """The video's `metadata` step: capture time and offset, upright size, duration, and the
    place sealed like a photo's GPS."""

    photo: Photo = work.photo
    facts: VideoFacts = work.video
    taken_at = capture_time(facts.tags)
    photo.taken_at = taken_at
    photo.taken_offset = metadata.local_offset_minutes(taken_at)
    photo.shown_at = taken_at or photo.uploaded_at
    photo.shown_local = metadata.local_wall_clock(photo.shown_at, photo.taken_offset)
    photo.width, photo.height = facts.width, facts.height
    photo.duration = facts.duration
    private = _place(facts.tags)
    make = facts.tags.get("com.apple.quicktime.make")
    model = facts.tags.get("com.apple.quicktime.model")
    if make:
        private["camera_make"] = make
    if model:
        private["camera_model"] = model
    photo.exif_sealed = metadata.private_sealed(work.keys.metadata_key, photo.id, private)
    photo.save(
        update_fields=[
            "taken_at",
            "taken_offset",
            "shown_at",
            "shown_local",
            "width",
            "height",
            "duration",
            "exif_sealed",
        ]
    )


def tag_frames(work) -> None:
    """The video's `tags` step: the tagger labels every sampled frame; a label's score is its
    best over the frames (a dog seen in one part of a video is in the video)."""
    from vault.photos import seen_by
    from vault.photos.tagging import tags_store_from_model
    from worker.tags import tagger_or_reason

    tagger, _reason = tagger_or_reason()
    if tagger is None:
        return
    try:
        per_frame = tagger.tag_batch(work.frames)
    except Exception:
        log.exception("video %s: the tagger failed", work.photo.id)
        Photo.objects.filter(pk=work.photo.pk).update(tagged_by=seen_by.failed(tagger.model_id))
        return
    best: dict[str, float] = {}
    for labels in per_frame:
        for item in labels:
            best[item.label] = max(best.get(item.label, 0.0), float(item.score))
    tags_store_from_model(photo=work.photo, model_id=tagger.model_id, labels=list(best.items()))


def find_faces(work) -> None:
    """The video's `faces` step: the sampled frame that shows the most faces becomes the
    picture faces are stored from (and, if it is not the poster already, the poster: so the
    face boxes fit the preview the photo page shows)."""
    from worker import faces

    models, _reason = faces.face_models_or_reason()
    if models is not None and len(work.frames) > 1:
        try:
            counts = [len(models.detector.detect(frame)) for frame in work.frames]
        except Exception:
            log.exception("video %s: face detection failed on a frame", work.photo.id)
            counts = [0]
        best = max(range(len(counts)), key=lambda i: (counts[i], -i))
        if best and counts[best]:
            work.image = work.frames[best]
            thumbnails.make_thumbnails(work)
    faces.find_faces(work)


def make_rendition(work) -> None:
    """The video's `rendition` step: when a browser cannot play the original (HEVC, an odd
    container or codec), an H.264/AAC MP4 of at most 1080p, encrypted as the 'rendition'
    blob. Fragmented MP4 (moov first, fragments after), so it is written front to back into
    the SPV1 writer: no plaintext temporary file. A rendition that fails leaves the video
    ready without one (the page offers the download) and logs why."""
    photo: Photo = work.photo
    if work.video.playable:
        Blob.objects.filter(photo=photo, variant=Blob.Variant.RENDITION).delete()
        return
    deadline = (
        time.monotonic()
        + settings.VAULT_VIDEO_DECODE_SECONDS
        + RENDITION_PACE * (work.video.duration or 0)
    )
    writer = None
    try:
        writer = spv1.BlobWriter(
            storage.blob_writer(photo.owner_id, photo.id, Blob.Variant.RENDITION),
            owner_public_key=work.owner_public_key,
            context=storage.blob_context(photo.owner_id, photo.id, Blob.Variant.RENDITION),
            data_key=work.keys.data_key,
        )
        width, height = transcode(BlobFile(work.original_reader), _WriterFile(writer), deadline)
        writer.close()
    except Exception as error:
        if writer is not None:
            writer.abort()
        log.warning("video %s: no rendition (%s: %s)", photo.id, type(error).__name__, error)
        return
    from vault.photos import blobs

    blobs.blob_record(
        photo=photo,
        variant=Blob.Variant.RENDITION,
        media_type=RENDITION_MEDIA_TYPE,
        size=writer.plaintext_length,
        width=width,
        height=height,
    )


class _WriterFile(io.RawIOBase):
    """A write-only, non-seekable file that feeds a BlobWriter (what PyAV's muxer writes to)."""

    def __init__(self, writer: spv1.BlobWriter) -> None:
        self._writer = writer
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        size = self._writer.write(data)
        self._pos += size
        return size

    def tell(self) -> int:
        return self._pos


def rendition_size(width: int, height: int) -> tuple[int, int]:
    """At most RENDITION_LONG_SIDE × 1080 either way round, even sides (4:2:0 needs them)."""
    scale = min(1.0, RENDITION_LONG_SIDE / max(width, height), 1080 / min(width, height))
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def transcode(
    source, target, deadline: float, *, max_seconds: float | None = None
) -> tuple[int, int]:
    """Re-encode `source`'s first video track (rotation applied) and first audio track to
    H.264 (libx264) / AAC in fragmented MP4 written to `target`. Returns the upright (width,
    height) in pixels. Raises VideoUnreadable when the wall clock passes `deadline`
    (time.monotonic() seconds), when it passes VAULT_VIDEO_DECODE_SECONDS plus RENDITION_PACE
    seconds per second of video decoded so far (a stream that decodes far slower than it
    plays, whatever duration it claims), or when the video goes on past `max_seconds`."""
    started = time.monotonic()
    with _open(source) as box:
        in_video = box.streams.video[0]
        in_video.thread_type = "AUTO"  # frame and slice threads: HEVC decoding is the cost
        # Bounded: FFmpeg's default is one frame thread per core plus one, each holding its
        # own reference frames (about 12 MiB each at 4K): memory would grow with the host.
        in_video.thread_count = max(2, settings.VAULT_ML_THREADS)
        in_audio = box.streams.audio[0] if box.streams.audio else None
        out = av.open(
            target,
            mode="w",
            format="mp4",
            options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
        )
        try:
            rate = in_video.average_rate or 30
            video = out.add_stream("libx264", rate=rate)
            video.pix_fmt = "yuv420p"
            video.options = {"crf": RENDITION_CRF, "preset": "veryfast"}
            size = upright = None
            audio = out.add_stream("aac", rate=48000) if in_audio is not None else None
            streams = [in_video] + ([in_audio] if in_audio is not None else [])
            first = None  # the first video frame's time (seconds)
            for packet in box.demux(*streams):
                _deadline_check(deadline)
                for frame in packet.decode():
                    if packet.stream is in_video:
                        played = 0.0
                        if frame.time is not None:
                            first = frame.time if first is None else first
                            played = frame.time - first
                        if max_seconds is not None and played > max_seconds:
                            raise VideoUnreadable(f"longer than {max_seconds:g} s")
                        _deadline_check(
                            started + settings.VAULT_VIDEO_DECODE_SECONDS + RENDITION_PACE * played
                        )
                        if size is None:
                            # Pixels are scaled by swscale as stored, and the rotation is kept
                            # as the output's display matrix, which browsers apply: turning
                            # 4K frames through PIL would cost more than encoding them.
                            size = rendition_size(frame.width, frame.height)
                            video.width, video.height = size
                            rotation = round(frame.rotation or 0) % 360
                            if rotation:
                                video.set_display_rotation(rotation)
                            upright = size[::-1] if rotation in (90, 270) else size
                        picture = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                        picture.pts = frame.pts
                        picture.time_base = frame.time_base
                        out.mux(video.encode(picture))
                    elif audio is not None:
                        frame.pts = None
                        out.mux(audio.encode(frame))
            out.mux(video.encode())
            if audio is not None:
                out.mux(audio.encode())
        finally:
            out.close()
    if upright is None:
        raise VideoUnreadable("no frame")
    return upright


# -- motion photos --------------------------------------------------------------------------

MOTION_MEDIA_TYPE = "video/mp4"
_CLIP_BRANDS = (b"ftypmp4", b"ftypisom", b"ftypmp42", b"ftypqt  ", b"ftypavc1", b"ftypM4V")


def embedded_clip(original: bytes) -> tuple[int, int] | None:
    """(start, end) of the MP4 a motion photo carries after its JPEG or HEIC picture (Google
    "MVIMG"/Motion Photo and Samsung both append it; Samsung adds a trailer after it, which the
    box walk leaves out). None when there is no whole clip with a track index."""
    for brand in _CLIP_BRANDS:
        at = original.find(brand, 8)
        while at != -1:
            start = at - 4
            end, kinds = _box_chain(original, start)
            if b"moov" in kinds and b"mdat" in kinds:
                return start, end
            at = original.find(brand, at + 1)
    return None


def _box_chain(data: bytes, start: int) -> tuple[int, set[bytes]]:
    """Where a chain of top-level ISO-BMFF boxes starting at `start` ends, and their types."""
    pos, kinds = start, set()
    while pos + 8 <= len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= len(data):
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        if size < header or pos + size > len(data) or not kind.isalnum():
            break
        kinds.add(kind)
        pos += size
    return pos, kinds


def find_motion(work) -> None:
    """The photo pipeline's `motion` step: a motion photo's clip, checked by decoding its
    first frame, is stored as the photo's "motion" blob (under the photo's data key, like its
    thumbnails); the still stays the photo."""
    photo: Photo = work.photo
    if LiveCandidate.objects.filter(photo_id=photo.id, merged_from__isnull=False).exists():
        return  # a Live item: its motion is the joined MOV (whose own item is gone), kept
    span = (
        embedded_clip(work.original) if photo.media_type in ("image/jpeg", "image/heic") else None
    )
    if span is None:
        return
    clip = work.original[span[0] : span[1]]
    try:
        facts, _frames = video_decode(
            io.BytesIO(clip), deadline=time.monotonic() + settings.VAULT_VIDEO_DECODE_SECONDS
        )
    except VideoUnreadable:
        log.info("photo %s: an embedded clip that does not decode is ignored", photo.id)
        return
    if (facts.duration or 0) > MOTION_MAX_SECONDS:
        log.info("photo %s: an embedded clip longer than a motion clip is ignored", photo.id)
        return
    work.store_blob(
        Blob.Variant.MOTION,
        clip,
        media_type=MOTION_MEDIA_TYPE,
        width=facts.width,
        height=facts.height,
    )


def render_motion(work) -> None:
    """The photo pipeline's `motion rendition` step: when a browser cannot play the photo's
    motion clip (an iPhone Live Photo's MOV and many motion photos' clips are HEVC), an
    H.264 MP4 of it (`transcode`, as for videos) becomes the photo's 'rendition' blob. A clip
    is seconds long: the rendition is made in memory and stored encrypted, never in clear on
    disk. A clip that does not decode, or a rendition that fails, leaves the photo as it is."""
    from vault.photos.live_photos import live_motion_checked

    photo: Photo = work.photo
    clip = Blob.objects.filter(photo=photo, variant=Blob.Variant.MOTION).first()
    if clip is None:
        return
    _render_motion(work, clip)
    live_motion_checked(photo.id)  # done, or not possible: either way not tried again


def _render_motion(work, clip: Blob) -> None:
    from vault.photos import blobs

    photo: Photo = work.photo
    deadline = time.monotonic() + settings.VAULT_VIDEO_DECODE_SECONDS
    try:
        with blobs.blob_open(clip, data_key=work.keys.data_key) as reader:
            facts, _frames = video_decode(BlobFile(reader), deadline=deadline)
            if facts.playable:
                Blob.objects.filter(photo=photo, variant=Blob.Variant.RENDITION).delete()
                return
            if (facts.duration or 0) > MOTION_MAX_SECONDS:
                # A clip that claims hours would have bought hours of a worker's time.
                log.warning(
                    "photo %s: no motion rendition (the clip claims %s s; at most %s s)",
                    photo.id,
                    round(facts.duration),
                    MOTION_MAX_SECONDS,
                )
                return
            rendered = io.BytesIO()
            width, height = transcode(
                BlobFile(reader),
                rendered,
                deadline + RENDITION_PACE * (facts.duration or 0),
                max_seconds=MOTION_MAX_SECONDS,
            )
    except Exception as error:
        log.warning("photo %s: no motion rendition (%s)", photo.id, type(error).__name__)
        return
    work.store_blob(
        Blob.Variant.RENDITION,
        rendered.getvalue(),
        media_type=RENDITION_MEDIA_TYPE,
        width=width,
        height=height,
    )
