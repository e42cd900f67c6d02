"""Kombu's filesystem transport, with atomic writes.

The stock transport creates a message file, then writes it: a worker listing the folder in
between reads an empty file, fails to decode it, and stops consuming (celery/kombu#1551). Here a
message is written to a temporary name the reader ignores, then renamed into place, which is
atomic on POSIX filesystems."""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temporary = final + ".tmp"  # "<...>.<queue>.msg.tmp" never matches the reader's "<queue>.msg"
        try:
            with open(temporary, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(temporary, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
