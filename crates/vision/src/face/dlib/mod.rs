//! dlib's ResNet face descriptor (150×150 RGB chip → 128 values), read from dlib's own `.dat`
//! file and run in rten.
//!
//! The reader (`reader`) turns the file into weights with every affine folded into its conv;
//! `to_onnx` writes the network as an in-memory ONNX graph, which rten then optimises and
//! prepacks like any other model. Going through ONNX rather than calling rten's operators one by
//! one lets rten fuse conv+relu and reuse packed weights across calls; `to_onnx_bytes` also
//! gives a file other runtimes can check against.
//!
//! The one subtle operation is dlib's residual add: when the two operands differ in shape it
//! zero-pads the smaller one at the end of each axis (extra channels, bottom rows, right
//! columns). In this network that happens in every down-sampling block; it becomes a `Pad`
//! before the `Add`.

pub mod reader;

use std::path::Path;

use rten::{Model, ModelOptions, NodeId};
use rten_onnx::onnx::{
    AttributeProto, AttributeType, DataType, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use rten_tensor::prelude::*;
use rten_tensor::{NdTensor, NdTensorView};

use self::reader::{Block, Conv, ResNetWeights};
use crate::face::Embedding;

/// Side of the input chip in pixels.
pub const CHIP_SIZE: usize = 150;
/// Length of a descriptor.
pub const DESCRIPTOR_LEN: usize = 128;

/// Errors from reading or running the dlib network.
#[derive(Debug, thiserror::Error)]
pub enum DlibError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("not the dlib ResNet face descriptor at byte {offset}: {detail}")]
    Format { offset: usize, detail: String },
    #[error("cannot build the descriptor network: {0}")]
    Build(String),
    #[error("descriptor network failed: {0}")]
    Run(String),
    #[error("chip must be {CHIP_SIZE}×{CHIP_SIZE} RGB, got {0}×{1}")]
    ChipSize(u32, u32),
}

/// The descriptor network loaded into rten. `Send + Sync`; `embed` takes `&self`.
pub struct DlibEmbedder {
    model: Model,
    input: NodeId,
    output: NodeId,
    means: [f32; 3],
}

impl std::fmt::Debug for DlibEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DlibEmbedder").field("means", &self.means).finish()
    }
}

impl DlibEmbedder {
    /// Reads the `.dat` file and builds the network.
    pub fn load(path: &Path) -> Result<Self, DlibError> {
        let data = std::fs::read(path).map_err(|source| DlibError::Io { path: path.display().to_string(), source })?;
        Self::from_dat(&data)
    }

    /// Builds the network from the bytes of the `.dat` file.
    pub fn from_dat(data: &[u8]) -> Result<Self, DlibError> {
        let weights = reader::parse(data)?;
        let onnx = to_onnx_bytes(&weights)?;
        let mut options = ModelOptions::with_all_ops();
        options.prepack_weights(true);
        let model = options.load(onnx).map_err(|e| DlibError::Build(e.to_string()))?;
        let input = model.node_id("chip").map_err(|e| DlibError::Build(e.to_string()))?;
        let output = model.node_id("descriptor").map_err(|e| DlibError::Build(e.to_string()))?;
        Ok(Self { model, input, output, means: weights.means })
    }

    /// Descriptors for a batch of 150×150 RGB chips.
    pub fn embed(&self, chips: &[&image::RgbImage]) -> Result<Vec<Embedding>, DlibError> {
        if chips.is_empty() {
            return Ok(Vec::new());
        }
        let plane = CHIP_SIZE * CHIP_SIZE;
        let mut data = vec![0f32; chips.len() * 3 * plane];
        for (chip, out) in chips.iter().zip(data.chunks_exact_mut(3 * plane)) {
            if chip.width() as usize != CHIP_SIZE || chip.height() as usize != CHIP_SIZE {
                return Err(DlibError::ChipSize(chip.width(), chip.height()));
            }
            for (i, px) in chip.pixels().enumerate() {
                for c in 0..3 {
                    out[c * plane + i] = (f32::from(px[c]) - self.means[c]) / 256.0;
                }
            }
        }
        let input = NdTensor::from_data([chips.len(), 3, CHIP_SIZE, CHIP_SIZE], data);
        let [out] = self
            .model
            .run_n(vec![(self.input, input.into())], [self.output], None)
            .map_err(|e| DlibError::Run(e.to_string()))?;
        let out: NdTensor<f32, 2> =
            out.try_into().map_err(|e: rten::TryFromValueError| DlibError::Run(e.to_string()))?;
        rows_to_embeddings(out.view())
    }
}

fn rows_to_embeddings(out: NdTensorView<'_, f32, 2>) -> Result<Vec<Embedding>, DlibError> {
    let [n, len] = out.shape();
    if len != DESCRIPTOR_LEN {
        return Err(DlibError::Run(format!("output has {len} values, expected 128")));
    }
    (0..n)
        .map(|i| {
            let row: Vec<f32> = out.slice(i).iter().copied().collect();
            Embedding::try_from(row).map_err(DlibError::Run)
        })
        .collect()
}

/// Incrementally assembles the ONNX graph with static shape bookkeeping.
struct GraphBuilder {
    graph: GraphProto,
    next: usize,
}

fn ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        ints: values.to_vec(),
        r#type: Some(AttributeType::INTS),
        ..AttributeProto::default()
    }
}

fn int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_owned()),
        i: Some(value),
        r#type: Some(AttributeType::INT),
        ..AttributeProto::default()
    }
}

fn float_tensor(name: &str, dims: &[usize], values: &[f32]) -> TensorProto {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: Some(DataType::FLOAT),
        raw_data: Some(std::cell::RefCell::new(raw)),
        name: Some(name.to_owned()),
        ..TensorProto::default()
    }
}

fn value_info(name: &str, dims: &[Option<usize>]) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.to_owned()),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: Some(DataType::FLOAT),
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            dim_value: d.map(|v| v as i64),
                            dim_param: if d.is_none() { Some("batch".to_owned()) } else { None },
                        })
                        .collect(),
                }),
            }),
            sequence: None,
        }),
    }
}

/// A value in the graph and its (channels, height, width).
#[derive(Clone)]
struct Val {
    name: String,
    c: usize,
    h: usize,
    w: usize,
}

impl GraphBuilder {
    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}_{}", self.next)
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: Vec<AttributeProto>, out: &str) {
        self.graph.node.push(NodeProto {
            name: Some(format!("{op}_{}", self.graph.node.len())),
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![out.to_owned()],
            op_type: Some(op.to_owned()),
            attribute: attrs,
            domain: None,
        });
    }

    fn conv(&mut self, x: &Val, conv: &Conv, relu: bool) -> Val {
        let w = self.fresh("w");
        let b = self.fresh("b");
        let k = conv.kernel;
        self.graph.initializer.push(float_tensor(&w, &[conv.out_channels, conv.in_channels, k, k], &conv.weights));
        self.graph.initializer.push(float_tensor(&b, &[conv.out_channels], &conv.bias));
        let out = self.fresh("conv");
        let (p, s) = (conv.pad as i64, conv.stride as i64);
        self.node(
            "Conv",
            &[&x.name, &w, &b],
            vec![ints("kernel_shape", &[k as i64, k as i64]), ints("strides", &[s, s]), ints("pads", &[p, p, p, p])],
            &out,
        );
        let size = |n: usize| 1 + (n + 2 * conv.pad - k) / conv.stride;
        let y = Val { name: out, c: conv.out_channels, h: size(x.h), w: size(x.w) };
        if relu { self.relu(&y) } else { y }
    }

    fn relu(&mut self, x: &Val) -> Val {
        let out = self.fresh("relu");
        self.node("Relu", &[&x.name], vec![], &out);
        Val { name: out, ..x.clone() }
    }

    fn pool(&mut self, op: &str, x: &Val, k: usize) -> Val {
        let out = self.fresh("pool");
        self.node(
            op,
            &[&x.name],
            vec![ints("kernel_shape", &[k as i64, k as i64]), ints("strides", &[2, 2]), ints("pads", &[0, 0, 0, 0])],
            &out,
        );
        Val { name: out, c: x.c, h: (x.h - k) / 2 + 1, w: (x.w - k) / 2 + 1 }
    }

    /// Zero-pads `x` at the end of the channel, row and column axes up to (c, h, w).
    fn pad_to(&mut self, x: &Val, c: usize, h: usize, w: usize) -> Val {
        if (x.c, x.h, x.w) == (c, h, w) {
            return x.clone();
        }
        let pads = self.fresh("pads");
        let widths = [0, 0, 0, 0, 0, c - x.c, h - x.h, w - x.w];
        let raw: Vec<u8> = widths.iter().flat_map(|&v| (v as i64).to_le_bytes()).collect();
        self.graph.initializer.push(TensorProto {
            dims: vec![8],
            data_type: Some(DataType::INT64),
            raw_data: Some(std::cell::RefCell::new(raw)),
            name: Some(pads.clone()),
            ..TensorProto::default()
        });
        let out = self.fresh("pad");
        self.node("Pad", &[&x.name, &pads], vec![], &out);
        Val { name: out, c, h, w }
    }

    /// dlib's add: shapes are the element-wise max, missing entries are zeros; then relu.
    fn add_relu(&mut self, a: &Val, b: &Val) -> Val {
        let (c, h, w) = (a.c.max(b.c), a.h.max(b.h), a.w.max(b.w));
        let a = self.pad_to(a, c, h, w);
        let b = self.pad_to(b, c, h, w);
        let out = self.fresh("add");
        self.node("Add", &[&a.name, &b.name], vec![], &out);
        self.relu(&Val { name: out, c, h, w })
    }
}

/// Writes the network as an ONNX model (opset 13). Input `chip`: `[batch, 3, 150, 150]`,
/// already mean-subtracted and divided by 256; output `descriptor`: `[batch, 128]`.
pub fn to_onnx(weights: &ResNetWeights) -> ModelProto {
    let mut g = GraphBuilder { graph: GraphProto::default(), next: 0 };
    let size = weights.size;
    g.graph.input.push(value_info("chip", &[None, Some(3), Some(size), Some(size)]));
    let x = Val { name: "chip".to_owned(), c: 3, h: size, w: size };
    let x = g.conv(&x, &weights.stem, true);
    let mut x = g.pool("MaxPool", &x, 3);
    for block in &weights.blocks {
        x = match block {
            Block::Residual { conv1, conv2 } => {
                let m = g.conv(&x, conv1, true);
                let m = g.conv(&m, conv2, false);
                g.add_relu(&x, &m)
            }
            Block::Down { conv1, conv2 } => {
                let m = g.conv(&x, conv1, true);
                let m = g.conv(&m, conv2, false);
                let s = g.pool("AveragePool", &x, 2);
                g.add_relu(&s, &m)
            }
        };
    }
    let pooled = g.fresh("gap");
    g.node("GlobalAveragePool", &[&x.name], vec![], &pooled);
    let flat = g.fresh("flat");
    g.node("Flatten", &[&pooled], vec![int("axis", 1)], &flat);
    g.graph.initializer.push(float_tensor("fc", &[x.c, DESCRIPTOR_LEN], &weights.fc));
    g.node("MatMul", &[&flat, "fc"], vec![], "descriptor");
    g.graph.output.push(value_info("descriptor", &[None, Some(DESCRIPTOR_LEN)]));

    ModelProto {
        ir_version: Some(7),
        graph: Some(g.graph),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(13) }],
        producer_name: Some("veriframe dlib reader".to_owned()),
        ..ModelProto::default()
    }
}

/// `to_onnx`, serialised.
pub fn to_onnx_bytes(weights: &ResNetWeights) -> Result<Vec<u8>, DlibError> {
    to_onnx(weights).write_buf().map_err(|e| DlibError::Build(e.to_string()))
}
