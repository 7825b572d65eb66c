"""The wire contract: conversions between the domain and the protobuf messages of proto/."""
