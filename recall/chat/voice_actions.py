"""Say it instead: a recording transcribed offline, or push-to-talk, then sent as typed words.
A mixin of ``RecallApp``."""
from __future__ import annotations

from functools import partial
from pathlib import Path

from .screens.ask_text import AskText


class VoiceActions:
    # ---- voice -----------------------------------------------------------------------------------
    def action_attach_audio(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.conversation.thinking("listening to the recording...")
                self.run_worker(partial(self._transcribe, Path(path).expanduser()), thread=True, group="voice",
                                exit_on_error=False)

        self.push_screen(AskText("Say it instead: an audio file to transcribe (here, offline)",
                                 placeholder="~/memo.wav", hint="WAV, MP3, M4A, OGG, FLAC..."), chosen)

    def _transcribe(self, path: Path, recorded: bool = False) -> None:
        from tools.models.clip import ModelMissing
        from tools.models.speech import SpeechError

        try:
            try:
                transcript = self.engine.transcribe(path)
            finally:
                if recorded:  # the person's voice is not kept on disk
                    path.unlink(missing_ok=True)
        except (SpeechError, ModelMissing) as error:
            self.call_from_thread(self._heard, None, str(error))
            return
        except Exception as error:  # noqa: BLE001
            self.call_from_thread(self._failed, "transcription failed", error)
            return
        self.call_from_thread(self._heard, transcript.text, None)

    def _heard(self, text: str | None, problem: str | None) -> None:
        self.conversation.thinking(None)
        if problem:
            self.conversation.add("notice", problem)  # the session is unchanged
            return
        self.conversation.add("system", f"heard: {text}")
        self.send(text)

    def action_record(self) -> None:
        """Push to talk: Ctrl+R starts recording from the microphone, Ctrl+R again stops and
        transcribes. Needs the optional `sounddevice` (PortAudio) and an input device."""
        if self._recording is not None:
            self._stop_recording()
            return
        try:
            import sounddevice
        except (ImportError, OSError):
            self.conversation.add("notice", "no microphone support here (pip install sounddevice; it needs "
                                  "PortAudio): Ctrl+O transcribes an audio file instead")
            return
        try:
            sounddevice.query_devices(kind="input")
            chunks: list = []
            stream = sounddevice.InputStream(samplerate=16_000, channels=1, dtype="int16",
                                             callback=lambda data, frames, when, status: chunks.append(data.copy()))
            stream.start()
        except Exception:  # noqa: BLE001 - no input device is the usual case on a server
            self.conversation.add("notice", "no microphone found: Ctrl+O transcribes an audio file instead")
            return
        self._recording = (stream, chunks)
        self.conversation.thinking("recording... Ctrl+R again to stop")

    def _stop_recording(self) -> None:
        import tempfile
        import wave

        import numpy as np

        stream, chunks = self._recording
        self._recording = None
        stream.stop()
        stream.close()
        if not chunks:
            self.conversation.thinking(None)
            self.conversation.add("notice", "nothing was recorded")
            return
        handle = tempfile.NamedTemporaryFile(suffix=".wav", delete=False)
        with wave.open(handle, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(16_000)
            out.writeframes(np.concatenate(chunks).tobytes())
        self.conversation.thinking("listening to the recording...")
        self.run_worker(partial(self._transcribe, Path(handle.name), True), thread=True, group="voice",
                        exit_on_error=False)
