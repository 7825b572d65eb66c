"""Framers for pure unit tests: records framed with no prefix, so their values read as before."""

from subsidy.infra.records import Framer

PLAIN = Framer(
    prefix=b"", source=b"/test", ce_type=b"test", content_type=b"application/protobuf",
    dataschema=b"",
)  # fmt: skip


class AnyTopic(dict[str, Framer]):
    """Every topic framed by PLAIN (a handler under test asks for its own topics' framers)."""

    def __missing__(self, topic: str) -> Framer:
        return PLAIN


PLAIN_FRAMERS = AnyTopic()
