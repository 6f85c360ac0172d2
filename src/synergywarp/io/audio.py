"""Audio passthrough: carry the audio track of a source file into an mp4 being written.

AAC, MP3 and Opus are copied packet by packet (remux, no quality loss); any other codec (PCM, Vorbis,
AC-3...) is decoded and re-encoded to AAC. Packets are handed out in time order so the caller can
interleave them with the video, and the track is cut where the video ends.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from synergywarp.errors import InputError
from synergywarp.io.optional_av import av

REMUX_AUDIO_CODECS = frozenset({"aac", "mp3", "opus"})
"""Audio codecs copied into mp4 as they are; others are re-encoded to AAC."""

_KEEP_BEFORE_START_SECONDS = 0.1
"""Copied packets with negative times are kept down to this (encoder priming, e.g. AAC's 1024 samples)."""

_AAC_SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def _timed(packet: av.Packet) -> tuple[float, av.Packet]:
    """An encoded packet with its start time in seconds (encoders always stamp pts)."""
    assert packet.pts is not None
    return float(packet.pts * packet.time_base), packet


class AudioPassthrough:
    """The first audio stream of `source` (a video or audio file), ready to mux into an output.

    A folder (frame-folder input) or a file without audio gives `available == False`.
    Usage: `track = AudioPassthrough(path)`; if `track.available`: `track.add_to(output)` before the
    first mux, then `track.mux_until(output, seconds)` while writing video, `track.finish(output,
    end_seconds)` at the end. Times are relative to the start of the source's video stream (or of the
    file when it has no video), so audio stays in sync with frames decoded from the same source.
    """

    def __init__(self, source: str | Path) -> None:
        self.source = Path(source)
        self._input: av.container.InputContainer | None = None
        self._input_stream: av.AudioStream | None = None
        self._pending: tuple[float, av.Packet] | None = None
        self._packets: Iterator[tuple[float, av.Packet]] | None = None
        self._output_stream: av.AudioStream | None = None
        self._start_offset = 0.0
        self.available = False
        if not self.source.exists():
            raise InputError(f"audio source not found: {self.source}")
        if self.source.is_dir():
            return  # a frame folder has no audio
        try:
            self._input = av.open(str(self.source))
        except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise InputError(f"cannot read audio from {self.source} ({reason})") from None
        if not self._input.streams.audio:
            self.close()
            return
        self.available = True
        self._input_stream = self._input.streams.audio[0]
        self._start_offset = self._source_start_seconds()

    @property
    def codec_name(self) -> str | None:
        """Codec of the source audio (e.g. 'aac', 'mp3'; not the decoder's name), None without audio."""
        if self._input_stream is None:
            return None
        return self._input_stream.codec_context.codec.canonical_name

    @property
    def remuxed(self) -> bool:
        """True when packets are copied rather than re-encoded to AAC."""
        return self.codec_name in REMUX_AUDIO_CODECS

    def _source_start_seconds(self) -> float:
        assert self._input is not None  # called once the source is open
        streams = self._input.streams.video or self._input.streams.audio
        if streams and streams[0].start_time is not None and streams[0].time_base is not None:
            return float(streams[0].start_time * streams[0].time_base)
        return 0.0

    def add_to(self, output: av.container.OutputContainer) -> None:
        """Add the audio stream to `output` (call before anything is muxed)."""
        if not self.available or self._output_stream is not None:
            return
        source_stream = self._input_stream
        assert source_stream is not None  # available means the source has an audio stream
        if self.remuxed:
            self._output_stream = output.add_stream_from_template(source_stream)
            self._packets = self._copied_packets()
        else:
            source_rate = source_stream.codec_context.sample_rate or 48000
            rate = source_rate if source_rate in _AAC_SAMPLE_RATES else 48000
            layout = "mono" if source_stream.codec_context.channels == 1 else "stereo"
            self._output_stream = output.add_stream("aac", rate=rate)
            self._output_stream.layout = layout
            self._packets = self._reencoded_packets(rate, layout)

    def _copied_packets(self) -> Iterator[tuple[float, av.Packet]]:
        container, stream, output_stream = self._input, self._input_stream, self._output_stream
        assert container is not None and stream is not None and output_stream is not None  # set up by add_to
        offset_ticks = round(self._start_offset / stream.time_base) if stream.time_base else 0
        try:
            for packet in container.demux(stream):
                if packet.dts is None or packet.pts is None:
                    continue  # demuxer flush packet
                packet.pts -= offset_ticks
                packet.dts -= offset_ticks
                end = (packet.pts + (packet.duration or 0)) * packet.time_base
                if end <= -_KEEP_BEFORE_START_SECONDS:
                    continue  # audio long before the first video frame
                packet.stream = output_stream
                yield float(packet.pts * packet.time_base), packet
        except (av.FFmpegError, OSError) as error:
            warnings.warn(f"{self.source}: audio stopped early ({error})", stacklevel=2)

    def _reencoded_packets(self, rate: int, layout: str) -> Iterator[tuple[float, av.Packet]]:
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        container, stream, encoder = self._input, self._input_stream, self._output_stream
        assert container is not None and stream is not None and encoder is not None  # set up by add_to
        time_base = Fraction(1, rate)
        next_sample: int | None = None

        def encode(frames: list[av.AudioFrame]) -> Iterator[tuple[float, av.Packet]]:
            nonlocal next_sample
            for frame in frames:
                assert next_sample is not None  # set by the first decoded frame
                frame.pts, frame.time_base = next_sample, time_base
                next_sample += frame.samples
                for packet in encoder.encode(frame):
                    yield _timed(packet)

        try:
            for packet in container.demux(stream):
                for decoded in packet.decode():
                    if next_sample is None:
                        start = float(decoded.time or 0.0) - self._start_offset
                        next_sample = max(0, round(start * rate))
                    yield from encode(resampler.resample(decoded))
        except (av.FFmpegError, OSError) as error:
            warnings.warn(f"{self.source}: audio stopped early ({error})", stacklevel=2)
        if next_sample is not None:
            yield from encode(resampler.resample(None))
        for packet in encoder.encode(None):
            yield _timed(packet)

    def mux_until(self, output: av.container.OutputContainer, seconds: float) -> None:
        """Mux every audio packet that starts before `seconds`."""
        if self._packets is None:
            return
        while True:
            if self._pending is None:
                self._pending = next(self._packets, None)
                if self._pending is None:
                    self._packets = None
                    return
            start, packet = self._pending
            if start >= seconds:
                return
            output.mux(packet)
            self._pending = None

    def finish(self, output: av.container.OutputContainer, end_seconds: float) -> None:
        """Mux the audio up to the end of the video, drop the rest, and release the source file."""
        try:
            self.mux_until(output, end_seconds)
        finally:
            self.close()

    def close(self) -> None:
        """Release the source file (safe to call twice)."""
        self._packets = None
        self._pending = None
        if self._input is not None:
            self._input.close()
            self._input = None
