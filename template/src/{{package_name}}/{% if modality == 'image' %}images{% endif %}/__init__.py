"""The image pipeline: class folders in, a small CNN out, served from its ONNX export.

One module per step: `sources` and `collect` (raw images into data/raw/<class>/), `clean`
(quarantine with a reason each), `preprocess` (the one decode -> resize -> array function that
training and serving share), `featurize` (the seeded split), `cnn` and `train` (PyTorch), `export`
(ONNX with a parity check), `evaluate` and `report`. `stages` registers them for the CLI and dvc.yaml.
"""
