"""Package metadata lives in setup.cfg; this file adds what setup.cfg cannot say: the model
zoo. The repository's top-level configs/ and models/ stay the source and ship inside the
package as layerflow/zoo_configs and layerflow/zoo_models (read by layerflow/zoo.py), so that
`layerflow train lenet` works after `pip install .` from any folder."""
from setuptools import find_packages, setup

ZOO = {"layerflow.zoo_configs": "configs", "layerflow.zoo_models": "models"}

setup(
    packages=find_packages(include=["layerflow", "layerflow.*"]) + sorted(ZOO),
    package_dir=ZOO,
    package_data={"layerflow.zoo_configs": ["*.yaml", "*.txt"],
                  "layerflow.zoo_models": ["*/*.yaml", "*/*.md", "*/*.txt", "*/*.py",
                                           "*/*.png"]},
)
