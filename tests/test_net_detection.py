"""A small SSD-style head (with an SENet Axpy block), written as Caffe prototxt, imported and
run: the structure and detection layers build with Caffe's shapes and run end to end."""
import numpy as np

from layerflow import Net
from layerflow.config.caffe_import import import_caffe_text

PROTOTXT = """
name: "tiny_ssd"
input: "data"
input_shape { dim: 2 dim: 3 dim: 32 dim: 32 }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1"
  convolution_param { num_output: 8 kernel_size: 3 stride: 2 pad: 1
                      weight_filler { type: "xavier" } } }
layer { name: "squeeze" type: "Pooling" bottom: "conv1" top: "squeeze"
  pooling_param { pool: AVE global_pooling: true } }
layer { name: "excite" type: "Convolution" bottom: "squeeze" top: "excite"
  convolution_param { num_output: 8 kernel_size: 1 weight_filler { type: "xavier" } } }
layer { name: "gate" type: "Sigmoid" bottom: "excite" top: "excite" }
layer { name: "se" type: "Axpy" bottom: "excite" bottom: "conv1" bottom: "conv1" top: "se" }
layer { name: "se_norm" type: "Normalize" bottom: "se" top: "se_norm"
  norm_param { across_spatial: false channel_shared: false
               scale_filler { type: "constant" value: 20 } } }
layer { name: "loc" type: "Convolution" bottom: "se_norm" top: "loc"
  convolution_param { num_output: 16 kernel_size: 3 pad: 1 weight_filler { type: "xavier" } } }
layer { name: "loc_perm" type: "Permute" bottom: "loc" top: "loc_perm"
  permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "loc_flat" type: "Flatten" bottom: "loc_perm" top: "loc_flat"
  flatten_param { axis: 1 } }
layer { name: "conf" type: "Convolution" bottom: "se_norm" top: "conf"
  convolution_param { num_output: 12 kernel_size: 3 pad: 1 weight_filler { type: "xavier" } } }
layer { name: "conf_perm" type: "Permute" bottom: "conf" top: "conf_perm"
  permute_param { order: 0 order: 2 order: 3 order: 1 } }
layer { name: "conf_flat" type: "Flatten" bottom: "conf_perm" top: "conf_flat"
  flatten_param { axis: 1 } }
layer { name: "priors" type: "PriorBox" bottom: "se_norm" bottom: "data" top: "priors"
  prior_box_param { min_size: 8.0 max_size: 16.0 aspect_ratio: 2.0 flip: true clip: false
                    variance: 0.1 variance: 0.1 variance: 0.2 variance: 0.2 step: 2 } }
layer { name: "conf_reshape" type: "Reshape" bottom: "conf_flat" top: "conf_reshape"
  reshape_param { shape { dim: 0 dim: -1 dim: 3 } } }
layer { name: "conf_softmax" type: "Softmax" bottom: "conf_reshape" top: "conf_softmax"
  softmax_param { axis: 2 } }
layer { name: "conf_soft_flat" type: "Flatten" bottom: "conf_softmax" top: "conf_soft_flat"
  flatten_param { axis: 1 } }
layer { name: "detection_out" type: "DetectionOutput"
  bottom: "loc_flat" bottom: "conf_soft_flat" bottom: "priors" top: "detection_out"
  detection_output_param { num_classes: 3 share_location: true background_label_id: 0
    nms_param { nms_threshold: 0.45 top_k: 20 } code_type: CENTER_SIZE keep_top_k: 10
    confidence_threshold: 0.2 } }
"""


def test_ssd_head_imports_builds_and_detects():
    result = import_caffe_text(PROTOTXT)
    assert not result.problems, result.problems
    net = Net({"layers": result.config["layers"]}, phase="test")
    shapes = {k: tuple(v.shape) for k, v in net.blobs.items()}
    assert shapes["se"] == (2, 8, 16, 16)
    assert shapes["loc_flat"] == (2, 16 * 16 * 16)
    assert shapes["priors"] == (1, 2, 16 * 16 * 4 * 4)        # 4 priors per position
    net.blobs["data"].data[...] = np.random.default_rng(0).normal(size=(2, 3, 32, 32))
    net.forward()
    out = net.blobs["detection_out"].data
    assert out.shape[:2] == (1, 1) and out.shape[3] == 7 and 1 <= out.shape[2] <= 20
    labels = out[0, 0, :, 1]
    assert set(labels) <= {1.0, 2.0} and np.all(np.diff(out[0, 0, :, 0]) >= 0)
