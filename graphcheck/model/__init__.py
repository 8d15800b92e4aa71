"""The model: what a checked file is, before any shape is inferred.

:mod:`.load` is the only module of the analyzer that reads onnx protobufs (a file, bytes or an
``onnx.ModelProto`` becomes the typed IR of :mod:`.ir`, weights never copied), :mod:`.serde` the only
one that writes them (a copy of the file with shapes spliced in at the wire level); :mod:`.validate`
rejects window attributes no runtime can take, naming the node); :mod:`.inline`
expands model-local functions; :mod:`.exporter_meta` reads what exporters leave behind (torch's
declared ranges); :mod:`.layers` maps ONNX nodes back to Keras layers and PyTorch modules.

May import: :mod:`graphcheck.symbolic`, :mod:`graphcheck.errors`, onnx (in :mod:`.load` only)
and networkx.
"""
