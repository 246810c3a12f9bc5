//! Reader for dlib's binary serialization of `dlib_face_recognition_resnet_model_v1.dat`.
//!
//! dlib does not store the network topology (tag and skip ids are implicit in the C++ type), so
//! the reader checks the file against the one architecture we support — wrapper versions,
//! record names, shapes, strides and paddings — and keeps only the weights and the input means.
//! Anything unexpected is a typed error, never a panic: the file comes from a registry.

use super::DlibError;

/// A convolution with its affine layer already folded in (`W·γ`, `b·γ + β`).
#[derive(Debug, Clone)]
pub struct Conv {
    pub out_channels: usize,
    pub in_channels: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
    /// OIHW, `out·in·k·k` values.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Residual block kinds of the ResNet (see the module docs of `dlib`).
#[derive(Debug, Clone)]
pub enum Block {
    /// `relu(x + affine(conv(relu(affine(conv(x))))))`, channels kept.
    Residual { conv1: Conv, conv2: Conv },
    /// Main path starts with a stride-2 conv; the shortcut is a 2×2/2 average pool of `x`, and
    /// the two are added with dlib's zero-padded add.
    Down { conv1: Conv, conv2: Conv },
}

/// The parsed network: everything needed for inference.
#[derive(Debug, Clone)]
pub struct ResNetWeights {
    /// Per-channel input means (R, G, B); the input is `(pixel − mean) / 256`.
    pub means: [f32; 3],
    /// Input chip size (150).
    pub size: usize,
    /// 7×7/2 stem convolution (affine folded), followed by relu and a 3×3/2 max pool.
    pub stem: Conv,
    pub blocks: Vec<Block>,
    /// 256×128 row-major `[in][out]`, no bias.
    pub fc: Vec<f32>,
    /// Training threshold stored in the loss layer (0.6).
    pub distance_threshold: f32,
}

/// Blocks from input to output: kind and output channels.
const BLOCKS: [(bool, usize); 14] = [
    (false, 32),
    (false, 32),
    (false, 32),
    (true, 64),
    (false, 64),
    (false, 64),
    (false, 64),
    (true, 128),
    (false, 128),
    (false, 128),
    (true, 256),
    (false, 256),
    (false, 256),
    (true, 256),
];

const FC_IN: usize = 256;
const FC_OUT: usize = 128;

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: impl Into<String>) -> DlibError {
        DlibError::Format { offset: self.pos, detail: what.into() }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DlibError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| self.err(format!("truncated: {n} more bytes expected")))?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// Sign-magnitude variable-length integer: control byte (bit 7 sign, bits 0–3 length).
    fn int(&mut self) -> Result<i64, DlibError> {
        let control = self.take(1)?[0];
        let len = usize::from(control & 0x0f);
        if len == 0 || len > 8 || control & 0x70 != 0 {
            self.pos -= 1;
            return Err(self.err(format!("bad integer control byte {control:#04x}")));
        }
        let bytes = self.take(len)?;
        let magnitude = bytes.iter().rev().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let magnitude = i64::try_from(magnitude).map_err(|_| self.err("integer magnitude out of range"))?;
        Ok(if control & 0x80 != 0 { -magnitude } else { magnitude })
    }

    fn uint(&mut self) -> Result<u64, DlibError> {
        let start = self.pos;
        let v = self.int()?;
        u64::try_from(v)
            .map_err(|_| DlibError::Format { offset: start, detail: "negative value in an unsigned field".into() })
    }

    fn expect_int(&mut self, expected: i64, what: &str) -> Result<(), DlibError> {
        let start = self.pos;
        let v = self.int()?;
        if v == expected {
            Ok(())
        } else {
            Err(DlibError::Format { offset: start, detail: format!("{what}: expected {expected}, found {v}") })
        }
    }

    fn usize(&mut self) -> Result<usize, DlibError> {
        let v = self.uint()?;
        usize::try_from(v).map_err(|_| self.err("size does not fit in memory"))
    }

    /// Scalar float: mantissa then exponent, value `m · 2^e`.
    fn float(&mut self) -> Result<f64, DlibError> {
        if let Some(&b) = self.data.get(self.pos)
            && b & 0x70 != 0
        {
            return Err(self.err("legacy text-encoded float is not supported"));
        }
        let mantissa = self.int()?;
        let exponent = self.int()?;
        match exponent {
            32000 => Ok(f64::INFINITY),
            32001 => Ok(f64::NEG_INFINITY),
            32002 => Ok(f64::NAN),
            e if (-2000..=2000).contains(&e) => {
                // Exact for every value in the file; `e` fits in i32 by the range check.
                Ok(mantissa as f64 * 2f64.powi(e as i32))
            }
            e => Err(self.err(format!("float exponent {e} out of range"))),
        }
    }

    fn boolean(&mut self) -> Result<bool, DlibError> {
        match self.take(1)?[0] {
            b'1' => Ok(true),
            b'0' => Ok(false),
            b => {
                self.pos -= 1;
                Err(self.err(format!("bad bool byte {b:#04x}")))
            }
        }
    }

    fn string(&mut self) -> Result<&'a str, DlibError> {
        let len = self.usize()?;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes).map_err(|_| self.err("string is not UTF-8"))
    }

    fn expect_name(&mut self, expected: &str) -> Result<(), DlibError> {
        let start = self.pos;
        let name = self.string()?;
        if name == expected {
            Ok(())
        } else {
            Err(DlibError::Format { offset: start, detail: format!("expected layer `{expected}`, found `{name}`") })
        }
    }

    fn shape4(&mut self) -> Result<[usize; 4], DlibError> {
        let mut shape = [0usize; 4];
        for dim in &mut shape {
            *dim = self.usize()?;
        }
        Ok(shape)
    }

    /// A tensor: version 2, N, C, H, W, then raw little-endian f32.
    fn tensor(&mut self) -> Result<([usize; 4], Vec<f32>), DlibError> {
        self.expect_int(2, "tensor version")?;
        let shape = self.shape4()?;
        let count = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .filter(|&c| c <= self.data.len() / 4)
            .ok_or_else(|| self.err(format!("tensor shape {shape:?} is larger than the file")))?;
        let bytes = self.take(count * 4)?;
        let values = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok((shape, values))
    }

    fn alias(&mut self) -> Result<[usize; 4], DlibError> {
        self.expect_int(1, "alias tensor version")?;
        self.shape4()
    }

    fn expect_alias(&mut self, expected: [usize; 4], what: &str) -> Result<(), DlibError> {
        let start = self.pos;
        let shape = self.alias()?;
        if shape == expected {
            Ok(())
        } else {
            Err(DlibError::Format {
                offset: start,
                detail: format!("{what}: expected shape {expected:?}, found {shape:?}"),
            })
        }
    }

    /// Four optimiser multipliers, unused at inference.
    fn skip_mults(&mut self) -> Result<(), DlibError> {
        for _ in 0..4 {
            self.float()?;
        }
        Ok(())
    }

    /// Training state after a layer record: three bools, then `tensors` tensors (shape-checked
    /// and skipped).
    fn skip_tail(&mut self, tensors: usize) -> Result<(), DlibError> {
        for _ in 0..3 {
            self.boolean()?;
        }
        for _ in 0..tensors {
            self.tensor()?;
        }
        Ok(())
    }

    fn skip_v2_tail(&mut self) -> Result<(), DlibError> {
        self.skip_tail(3)
    }

    fn conv(
        &mut self,
        out_channels: usize,
        in_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> Result<Conv, DlibError> {
        self.expect_name("con_4")?;
        let start = self.pos;
        let (_, params) = self.tensor()?;
        let n_weights = out_channels * in_channels * kernel * kernel;
        if params.len() != n_weights + out_channels {
            return Err(DlibError::Format {
                offset: start,
                detail: format!("conv params: expected {} values, found {}", n_weights + out_channels, params.len()),
            });
        }
        let fields = [
            (out_channels, "num_filters"),
            (kernel, "kernel rows"),
            (kernel, "kernel columns"),
            (stride, "stride y"),
            (stride, "stride x"),
            (pad, "padding y"),
            (pad, "padding x"),
        ];
        for (expected, what) in fields {
            // Every field fits comfortably in i64.
            self.expect_int(expected as i64, what)?;
        }
        self.expect_alias([out_channels, in_channels, kernel, kernel], "conv filters")?;
        self.expect_alias([1, out_channels, 1, 1], "conv biases")?;
        self.skip_mults()?;
        let mut weights = params;
        let bias = weights.split_off(n_weights);
        Ok(Conv { out_channels, in_channels, kernel, stride, pad, weights, bias })
    }

    /// Reads an affine record and folds it into `conv`.
    fn affine_into(&mut self, conv: &mut Conv) -> Result<(), DlibError> {
        self.expect_name("affine_")?;
        let c = conv.out_channels;
        let start = self.pos;
        let (_, params) = self.tensor()?;
        if params.len() != 2 * c {
            return Err(DlibError::Format {
                offset: start,
                detail: format!("affine params: expected {} values, found {}", 2 * c, params.len()),
            });
        }
        self.expect_alias([1, c, 1, 1], "affine gamma")?;
        self.expect_alias([1, c, 1, 1], "affine beta")?;
        self.expect_int(0, "affine mode (per-channel)")?;
        let (gamma, beta) = params.split_at(c);
        let per_filter = conv.weights.len() / c;
        for (f, chunk) in conv.weights.chunks_exact_mut(per_filter).enumerate() {
            chunk.iter_mut().for_each(|w| *w *= gamma[f]);
            conv.bias[f] = conv.bias[f] * gamma[f] + beta[f];
        }
        Ok(())
    }

    fn relu(&mut self) -> Result<(), DlibError> {
        self.expect_name("relu_")
    }

    fn pool(&mut self, name: &str, window: usize, stride: usize) -> Result<(), DlibError> {
        self.expect_name(name)?;
        for (expected, what) in [
            (window, "pool rows"),
            (window, "pool columns"),
            (stride, "pool stride y"),
            (stride, "pool stride x"),
            (0, "pool padding y"),
            (0, "pool padding x"),
        ] {
            self.expect_int(expected as i64, what)?;
        }
        Ok(())
    }
}

/// Header of one block, output side first: `2` = layer wrapper, `1` = tag/skip wrapper.
fn block_header(down: bool) -> &'static [i64] {
    if down { &[2, 2, 2, 1, 1, 2, 2, 2, 2, 2, 1] } else { &[2, 2, 2, 2, 2, 2, 2, 1] }
}

/// Parses the whole file; the input must end exactly where the network does.
pub fn parse(data: &[u8]) -> Result<ResNetWeights, DlibError> {
    let mut c = Cursor { data, pos: 0 };

    // Loss wrapper and record.
    c.expect_int(1, "loss wrapper version")?;
    c.expect_name("loss_metric_2")?;
    let _margin = c.float()?;
    let distance_threshold = c.float()? as f32;

    // Container versions, output side first.
    let mut expected: Vec<i64> = vec![2, 2];
    for &(down, _) in BLOCKS.iter().rev() {
        expected.extend_from_slice(block_header(down));
    }
    expected.extend_from_slice(&[2, 2, 2, 3]);
    for (i, &v) in expected.iter().enumerate() {
        c.expect_int(v, &format!("container version #{i}"))?;
    }

    // Input layer.
    c.expect_name("input_rgb_image_sized")?;
    let mut means = [0f32; 3];
    for m in &mut means {
        *m = c.float()? as f32;
    }
    let size = c.usize()?;
    let cols = c.usize()?;
    if size != 150 || cols != 150 {
        return Err(c.err(format!("input size {size}×{cols}, expected 150×150")));
    }

    // Stem: conv 7×7/2 (v3 tail), affine, relu, max pool 3×3/2.
    let mut stem = c.conv(32, 3, 7, 2, 0)?;
    c.skip_tail(3)?;
    c.expect_int(1, "sample expansion factor")?;
    c.affine_into(&mut stem)?;
    c.skip_v2_tail()?;
    c.relu()?;
    c.skip_v2_tail()?;
    c.pool("max_pool_2", 3, 2)?;
    c.skip_v2_tail()?;

    let mut channels = 32;
    let mut blocks = Vec::with_capacity(BLOCKS.len());
    for &(down, out) in &BLOCKS {
        let (stride, pad) = if down { (2, 0) } else { (1, 1) };
        let mut conv1 = c.conv(out, channels, 3, stride, pad)?;
        c.skip_v2_tail()?;
        c.affine_into(&mut conv1)?;
        c.skip_v2_tail()?;
        c.relu()?;
        c.skip_v2_tail()?;
        let mut conv2 = c.conv(out, out, 3, 1, 1)?;
        c.skip_v2_tail()?;
        c.affine_into(&mut conv2)?;
        c.skip_v2_tail()?;
        if down {
            c.pool("avg_pool_2", 2, 2)?;
            c.skip_v2_tail()?;
        }
        c.expect_name("add_prev_")?;
        c.skip_v2_tail()?;
        c.relu()?;
        c.skip_v2_tail()?;
        blocks.push(if down { Block::Down { conv1, conv2 } } else { Block::Residual { conv1, conv2 } });
        channels = out;
    }

    // Global average pool (window 0 = whole input, stride 1).
    c.pool("avg_pool_2", 0, 1)?;
    c.skip_v2_tail()?;

    // Fully connected 256 → 128 without bias.
    c.expect_name("fc_2")?;
    c.expect_int(FC_OUT as i64, "fc outputs")?;
    c.expect_int(FC_IN as i64, "fc inputs")?;
    let start = c.pos;
    let (_, fc) = c.tensor()?;
    if fc.len() != FC_IN * FC_OUT {
        return Err(DlibError::Format {
            offset: start,
            detail: format!("fc params: expected {} values, found {}", FC_IN * FC_OUT, fc.len()),
        });
    }
    c.expect_alias([FC_IN, FC_OUT, 1, 1], "fc weights")?;
    c.alias()?; // biases: empty when there is no bias
    c.expect_int(1, "fc bias mode (no bias)")?;
    c.skip_mults()?;
    c.skip_v2_tail()?;

    if c.pos != data.len() {
        return Err(c.err(format!("{} trailing bytes after the network", data.len() - c.pos)));
    }
    let finite = stem.weights.iter().chain(&fc).all(|v| v.is_finite())
        && blocks.iter().all(|b| {
            let (Block::Residual { conv1, conv2 } | Block::Down { conv1, conv2 }) = b;
            conv1.weights.iter().chain(&conv2.weights).all(|v| v.is_finite())
        });
    if !finite {
        return Err(c.err("non-finite weight"));
    }
    Ok(ResNetWeights { means, size, stem, blocks, fc, distance_threshold })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(bytes: &[u8]) -> Cursor<'_> {
        Cursor { data: bytes, pos: 0 }
    }

    #[test]
    fn integers_are_sign_magnitude() {
        let cases: [(&[u8], i64); 7] = [
            (&[0x01, 0x00], 0),
            (&[0x01, 0x02], 2),
            (&[0x01, 0x96], 150),
            (&[0x02, 0x80, 0x12], 4736),
            (&[0x02, 0x00, 0x01], 256),
            (&[0x81, 0x1c], -28),
            (&[0x81, 0x04], -4),
        ];
        for (bytes, value) in cases {
            assert_eq!(cursor(bytes).int().unwrap(), value, "{bytes:02x?}");
        }
        assert!(cursor(&[0x00]).int().is_err(), "zero length is invalid");
        assert!(cursor(&[0x02, 0x01]).int().is_err(), "truncated");
        assert!(cursor(&[0x81, 0x01]).uint().is_err(), "negative unsigned");
    }

    #[test]
    fn floats_are_mantissa_then_exponent() {
        let cases: [(&[u8], f64); 4] = [
            (&[0x03, 0x0a, 0xd7, 0xa3, 0x81, 0x1c], f64::from(0.04f32)),
            (&[0x03, 0x9a, 0x99, 0x99, 0x81, 0x18], f64::from(0.6f32)),
            (&[0x03, 0x62, 0x90, 0xf5, 0x81, 0x11], f64::from(122.782f32)),
            (&[0x81, 0x10, 0x81, 0x04], -1.0),
        ];
        for (bytes, value) in cases {
            assert_eq!(cursor(bytes).float().unwrap(), value, "{bytes:02x?}");
        }
        assert!(cursor(&[0x31]).float().is_err(), "text floats are refused");
    }

    #[test]
    fn empty_tensor_and_alias() {
        let mut c = cursor(&[1, 2, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0x20, 1, 1, 1, 1]);
        let (shape, values) = c.tensor().unwrap();
        assert_eq!(shape, [0; 4]);
        assert!(values.is_empty());
        assert_eq!(c.alias().unwrap(), [1, 32, 1, 1]);
    }

    #[test]
    fn huge_tensor_shape_is_an_error_not_an_allocation() {
        let bytes = [1, 2, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 1, 1, 1, 1, 1];
        assert!(cursor(&bytes).tensor().is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in [0usize, 1, 2, 29, 300, 4096] {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed >> 24) as u8
                })
                .collect();
            assert!(parse(&bytes).is_err());
        }
    }
}
