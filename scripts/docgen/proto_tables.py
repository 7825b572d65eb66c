"""docs/contract.md's protobuf tables: the descriptors, with the comments of their .proto source."""

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from grpc_tools import protoc
from pydantic import BaseModel

from scripts.docgen.common import PROTO, codes, table
from subsidy.decisions.v1 import decisions_pb2
from subsidy.events.v1 import events_pb2

SCALARS = {
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_BYTES: "bytes",
}
EVENTS = events_pb2.DESCRIPTOR
DECISIONS = decisions_pb2.DESCRIPTOR


def proto_comments() -> dict[str, str]:
    """The comment (leading and trailing) of every message, field, enum, enum value, service and
    method in proto/, by full name (an enum value's is its enum's full name + its own)."""
    well_known = Path(protoc.__file__).parent / "_proto"
    files = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "descriptors.pb"
        args = [f"-I{PROTO}", f"-I{well_known}", "--include_source_info"]
        if protoc.main(["protoc", *args, f"--descriptor_set_out={out}", *files]) != 0:
            raise SystemExit("protoc failed")
        parsed = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file
    comments = {}
    for file in parsed:
        names = _names_by_path(file)
        for location in file.source_code_info.location:
            text = " ".join((location.leading_comments + location.trailing_comments).split())
            name = names.get(tuple(location.path))
            if text and name:
                comments[name] = text
    return comments


def _names_by_path(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    """Source locations' paths to full names. A path is field numbers of descriptor.proto:
    4 message_type, 5 enum_type, 6 service; in a message 2 field, 3 nested, 4 enum; in an enum
    2 value; in a service 2 method."""
    names: dict[tuple[int, ...], str] = {}

    def enum(path: tuple[int, ...], e: descriptor_pb2.EnumDescriptorProto, scope: str) -> None:
        names[path] = full = f"{scope}.{e.name}"
        for i, value in enumerate(e.value):
            names[(*path, 2, i)] = f"{full}.{value.name}"

    def message(path: tuple[int, ...], m: descriptor_pb2.DescriptorProto, scope: str) -> None:
        names[path] = full = f"{scope}.{m.name}"
        for i, field in enumerate(m.field):
            names[(*path, 2, i)] = f"{full}.{field.name}"
        for i, nested in enumerate(m.nested_type):
            message((*path, 3, i), nested, full)
        for i, nested_enum in enumerate(m.enum_type):
            enum((*path, 4, i), nested_enum, full)

    for i, m in enumerate(file.message_type):
        message((4, i), m, file.package)
    for i, e in enumerate(file.enum_type):
        enum((5, i), e, file.package)
    for i, service in enumerate(file.service):
        names[(6, i)] = full = f"{file.package}.{service.name}"
        for j, method in enumerate(service.method):
            names[(6, i, 2, j)] = f"{full}.{method.name}"
    return names


def proto3_optional(field: FieldDescriptor) -> bool:
    """Declared `optional`: protoc gives such a field a oneof of its own, `_<name>`."""
    oneof = field.containing_oneof
    return oneof is not None and len(oneof.fields) == 1 and oneof.name == f"_{field.name}"


def type_name(field: FieldDescriptor) -> str:
    """The field's type as the .proto writes it: string, `District`, list of `Reason`…"""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = field.message_type.fields
        return f"map of {type_name(key)} to {type_name(value)}"
    if field.message_type is not None:
        base = f"`{field.message_type.name}`"
    elif field.enum_type is not None:
        base = f"`{field.enum_type.name}`"
    else:
        base = SCALARS[field.type]
    return f"list of {base}" if field.is_repeated else base


# Fields the platform sets, whatever the JSON a client sends says (the pydantic model reads
# them, for `simulate` files): what the `required` column says of them instead.
PLATFORM_SET = {
    "subsidy.events.v1.EnterpriseEvent.submitted_by": "set by ingest (a `simulate` file may"
    " state it)"
}


class Proto:
    """The generated modules' descriptors, read with the comments of their source."""

    def __init__(self) -> None:
        self.comments = proto_comments()

    def about(self, full_name: str) -> str:
        """A descriptor's comment, or nothing."""
        return self.comments.get(full_name, "")

    def message(self, m: Descriptor, model: type[BaseModel] | None = None) -> str:
        """A message's fields (those outside a oneof payload) as a table. With the pydantic model
        that validates the message's JSON, a `required` column says what it insists on."""
        fields = [f for f in m.fields if f.containing_oneof is None or proto3_optional(f)]
        if model is None:
            rows = [
                [
                    f"`{f.json_name}`",
                    ("optional " if proto3_optional(f) else "") + type_name(f),
                    self.about(f.full_name),
                ]
                for f in fields
            ]
            return table(["field", "type", "meaning"], rows)
        wanted = {f.name for f in m.fields}
        if set(model.model_fields) != wanted:
            raise SystemExit(f"{m.name}: {model.__name__} validates {sorted(model.model_fields)}")
        rows = [
            [
                f"`{f.json_name}`",
                type_name(f),
                PLATFORM_SET.get(f.full_name)
                or ("yes" if model.model_fields[f.name].is_required() else "no"),
                self.about(f.full_name),
            ]
            for f in fields
        ]
        return table(["field", "type", "required", "meaning"], rows)

    def section(
        self,
        m: Descriptor,
        level: str = "####",
        model: type[BaseModel] | None = None,
        title: str | None = None,
    ) -> str:
        """A heading (the message's name, or `title`), the message's comment and its fields."""
        heading = f"{level} `{title or m.name}`"
        return "\n\n".join(
            p for p in (heading, self.about(m.full_name), self.message(m, model)) if p
        )

    def enum(
        self,
        e: EnumDescriptor,
        domain: Iterable[str],
        column: tuple[str, Callable[[str], str]] | None = None,
        heading: bool = True,
    ) -> str:
        """An enum's values (not the zero UNSPECIFIED one), checked against the domain's enum of
        the same codes: a table of their comments, or of `column` computed from each value, or
        a plain list when there is neither."""
        values = [v.name for v in e.values if v.number != 0]
        if sorted(values) != sorted(domain):
            raise SystemExit(f"{e.name}: the proto has {values}, the domain {sorted(domain)}")
        if column is not None:
            header, cells = column[0], [column[1](v) for v in values]
        else:
            header, cells = "meaning", [self.about(f"{e.full_name}.{v}") for v in values]
        if any(cells):
            body = table(
                ["value", header], [[f"`{v}`", c] for v, c in zip(values, cells, strict=True)]
            )
        else:
            body = codes(values)
        if not heading:
            return body
        return "\n\n".join(p for p in (f"#### `{e.name}`", self.about(e.full_name), body) if p)
