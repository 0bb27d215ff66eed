"""The downstream messaging service: forward normalized events to it, check it is reachable."""

from adapters_platforms.messaging.forwarder import HttpMessageForwarder, MessagingServiceProbe

__all__ = ["HttpMessageForwarder", "MessagingServiceProbe"]
