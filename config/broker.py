"""Kombu's filesystem transport, with atomic writes; kombu's Redis transport, surviving a lost ack.

The stock filesystem transport creates a message file, then writes it: a worker listing the folder
in between reads an empty file, fails to decode it, and stops consuming (celery/kombu#1551). Here a
message is written to a temporary name the reader ignores, then renamed into place, which is
atomic on POSIX filesystems.

The stock Redis transport, when the broker goes away just as a task ends (its ack cannot be sent),
closes the broken channel after its connection was released and then tries to give the unacked
message back over that connection: an AttributeError that Celery calls an unrecoverable error, and
the worker exits (tests/e2e/test_outage.py hit it when a task took 0.07 s). Here that message is
left where Redis keeps it, in its unacked set, which Redis gives back after the visibility timeout
(CELERY_VISIBILITY_TIMEOUT); the claim makes a second delivery harmless."""

import logging
import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.transport import redis as kombu_redis
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


log = logging.getLogger(__name__)


class RedisQoS(kombu_redis.QoS):
    def restore_unacked(self, client=None):
        if client is None and self.channel.connection.client is None:  # the connection is gone
            if self._delivered:
                log.warning("%s unacknowledged message(s) left for Redis to give back after the visibility "
                            "timeout (the broker connection was lost)", len(self._delivered))
            self._delivered.clear()
            return None
        return super().restore_unacked(client)


class RedisChannel(kombu_redis.Channel):
    QoS = RedisQoS


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel
