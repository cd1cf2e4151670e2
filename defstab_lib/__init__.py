"""defstab_lib: measure, train and plot the deformation stability of convolutional networks.

A companion library to Ruderman, Rabinowitz, Morcos and Zoran (2018), *Learned Deformation Stability in
Convolutional Neural Networks*.  Conventions used throughout:

- images are ``(B, C, H, W)`` float tensors with values in ``[0, 1]`` unless a docstring says otherwise;
- points and vectors are in **pixels**, ordered **(x, y)** = (column, row), as ``grid_sample`` orders them;
- every function that draws randomness takes a ``torch.Generator`` (or a seed);
- device and dtype follow the input tensor.
"""

__version__ = "0.1.0"
