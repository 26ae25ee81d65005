"""The project package: data, features, training, serving and reporting."""
