"""Writes, to stdout, the FileDescriptorSet of Ray's autoscaler.proto and of every file it imports,
exactly as the installed Ray wheel carries them.

Run with the Python of the Ray venv (scripts/toolchain/ray.sh); scripts/proto/generate.sh feeds the
output to `buf generate`, and test/integration/ray-proto.test.ts compares it with the descriptors
embedded in operator/autoscaler/gen/.

Why the wheel: its ray/core/generated/*_pb2.py modules hold the serialized FileDescriptorProtos that
protoc compiled from Ray's .proto sources for this very release, so they are the definitions the GCS
we talk to was built with, and nothing else has to be fetched.

    python ray_descriptors.py > ray-autoscaler.binpb       # the set (a buf image in binary form)
    python ray_descriptors.py --version                    # the Ray version the set comes from
"""
import sys

import ray
from google.protobuf import descriptor_pb2
from ray.core.generated import autoscaler_pb2


def with_imports_first(root):
    """The file and its transitive imports, each after the files it imports (the order protoc uses)."""
    ordered, seen = [], set()

    def visit(file_descriptor):
        if file_descriptor.name in seen:
            return
        seen.add(file_descriptor.name)
        for imported in file_descriptor.dependencies:
            visit(imported)
        ordered.append(file_descriptor)

    visit(root)
    return ordered


def main():
    if sys.argv[1:] == ["--version"]:
        print(ray.__version__)
        return
    descriptor_set = descriptor_pb2.FileDescriptorSet()
    for file_descriptor in with_imports_first(autoscaler_pb2.DESCRIPTOR):
        # serialized_pb: the bytes protoc embedded, not a re-rendering by the Python runtime.
        descriptor_set.file.add().ParseFromString(file_descriptor.serialized_pb)
    sys.stdout.buffer.write(descriptor_set.SerializeToString(deterministic=True))


if __name__ == "__main__":
    main()
