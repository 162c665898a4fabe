#include "fastpath/graph/onednn_kernels.h"

#include <ATen/ATen.h>

#include <numeric>

#include "common/error.h"

namespace ptinfer::fastpath::graph {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::primitive_attr attributes(const std::vector<PostOp>& post_ops) {
  dnnl::post_ops ops;
  for (const PostOp& op : post_ops) {
    if (op.kind == PostOp::Kind::kSum) {
      ops.append_sum(1.f);
    } else {
      ops.append_eltwise(1.f, op.algorithm, op.alpha, op.beta);
    }
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

bool has_sum(const std::vector<PostOp>& post_ops) {
  for (const PostOp& op : post_ops) {
    if (op.kind == PostOp::Kind::kSum) return true;
  }
  return false;
}

std::string sizes_text(c10::IntArrayRef sizes) {
  std::string text;
  for (int64_t d : sizes) text += (text.empty() ? "" : "x") + std::to_string(d);
  return text;
}

bool is_float_or_bf16(at::ScalarType t) { return t == at::kFloat || t == at::kBFloat16; }

// oneDNN's reference kernels are far slower than LibTorch's: a node they would run keeps its
// LibTorch kernel.
void require_optimized(const std::string& implementation, const std::string& what) {
  if (implementation.rfind("ref", 0) == 0) {
    throw Error(ErrorKind::kUnsupported, "fast path: oneDNN has only its reference kernel (" +
                                             implementation + ") for " + what + " on this CPU");
  }
}

// What a kernel with a kSum post-op reads as `dst` and writes its result into: the addend (of
// `sizes`, float) itself where `mode` asks for it or nothing else can see it, else a copy.
at::Tensor sum_destination(at::Tensor& addend, c10::IntArrayRef sizes, at::ScalarType dtype,
                           at::MemoryFormat format, SumDestination mode) {
  if (addend.sizes() != sizes || !is_float_or_bf16(addend.scalar_type())) {
    throw Error(ErrorKind::kInternal, "fast path: a fused residual add got " +
                                          sizes_text(addend.sizes()) + " for " +
                                          sizes_text(sizes));
  }
  const bool alone = addend.use_count() == 1 && addend.storage().use_count() == 1;
  if (addend.scalar_type() == dtype && addend.is_contiguous(format) &&
      (mode == SumDestination::kAddend || alone)) {
    return addend;
  }
  return at::empty(sizes, addend.options().dtype(dtype).memory_format(format)).copy_(addend);
}

void check_input(const at::Tensor& x, c10::IntArrayRef sizes, const char* what) {
  if (x.sizes() != sizes || !is_float_or_bf16(x.scalar_type())) {
    throw Error(ErrorKind::kInternal, std::string("fast path: the oneDNN ") + what + " built for " +
                                          sizes_text(sizes) + " fp32/bf16 got " +
                                          sizes_text(x.sizes()) + " " +
                                          std::string(c10::toString(x.scalar_type())));
  }
}

// The state a kernel's Operation holds: the primitive, its memory descriptions and weights.
struct PrimitiveState {
  dnnl::primitive primitive;
  memory::desc src, dst;
  memory weights, bias;
  at::Tensor bias_tensor;  // bias's memory
  std::vector<int64_t> input_sizes, output_sizes;
  bool sum = false;
  SumDestination mode = SumDestination::kFresh;
  at::MemoryFormat format = at::MemoryFormat::Contiguous;
  at::ScalarType dtype = at::kFloat;  // of input, weights and output
  std::shared_ptr<PackedWeightCache> own_cache;  // when the caller gave none
};

torch::jit::Operation operation(std::shared_ptr<const PrimitiveState> s, const char* what) {
  return [s, what](torch::jit::Stack& stack) {
    at::Tensor addend;
    if (s->sum) addend = torch::jit::pop(stack).toTensor();
    at::Tensor x = torch::jit::pop(stack).toTensor();
    check_input(x, s->input_sizes, what);
    x = x.to(s->dtype).contiguous(s->format);
    at::Tensor y;
    if (s->sum) {
      y = sum_destination(addend, s->output_sizes, s->dtype, s->format, s->mode);
    } else {
      y = at::empty(s->output_sizes, x.options().memory_format(s->format));
    }
    const dnnl::engine& eng = cpu_engine();
    memory src(s->src, eng, x.data_ptr()), dst(s->dst, eng, y.data_ptr());
    std::unordered_map<int, memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, s->weights}, {DNNL_ARG_DST, dst}};
    if (s->bias) args[DNNL_ARG_BIAS] = s->bias;
    dnnl::stream strm(eng);
    s->primitive.execute(strm, args);
    strm.wait();
    if (s->sum && s->mode == SumDestination::kAddend && !y.is_same(addend)) {
      // The traced add_ wrote into the addend: so does this kernel, in the addend's dtype.
      addend.copy_(y);
      y = addend;
    }
    stack.emplace_back(std::move(y));
  };
}

// The packed weights through `cache`, or a cache of the kernel's own (kept in `s`) when null.
memory packed_weights(PrimitiveState& s, const at::Tensor& weight, const memory::desc& plain,
                      const memory::desc& packed, PackedWeightCache* cache) {
  if (cache == nullptr) {
    s.own_cache = std::make_shared<PackedWeightCache>();
    cache = s.own_cache.get();
  }
  return cache->get(weight, plain, packed);
}

void set_bias(PrimitiveState& s, const std::optional<at::Tensor>& bias, const memory::desc& md) {
  if (!bias) return;
  s.bias_tensor = bias->to(at::kFloat).contiguous();
  s.bias = memory(md, cpu_engine(), s.bias_tensor.data_ptr());
}

}  // namespace

dnnl::memory PackedWeightCache::get(const at::Tensor& source, const dnnl::memory::desc& plain,
                                    const dnnl::memory::desc& packed) {
  for (const Entry& e : entries_) {
    if (e.source.data_ptr() == source.data_ptr() && e.source.sizes() == source.sizes() &&
        e.source.strides() == source.strides() && e.desc == packed) {
      return e.memory;
    }
  }
  const dnnl::engine& eng = cpu_engine();
  Entry e;
  e.source = source;
  e.desc = packed;
  e.bytes = at::empty({static_cast<int64_t>(packed.get_size())}, at::kByte);
  e.memory = memory(packed, eng, e.bytes.data_ptr());
  memory from(plain, eng, source.data_ptr());
  dnnl::stream strm(eng);
  dnnl::reorder(from, e.memory).execute(strm, from, e.memory);
  strm.wait();
  entries_.push_back(e);
  return e.memory;
}

OneDnnKernel make_convolution(const ConvolutionSpec& spec, PackedWeightCache* cache) {
  const at::Tensor& w = spec.weight;
  if (w.dim() != 4 || spec.input_sizes.size() != 4 || spec.stride.size() != 2 ||
      spec.padding.size() != 2 || spec.dilation.size() != 2 || spec.groups < 1 ||
      w.scalar_type() != at::kFloat) {
    throw Error(ErrorKind::kUnsupported, "fast path: the oneDNN convolution takes 2-D fp32 only");
  }
  const int64_t n = spec.input_sizes[0], c = spec.input_sizes[1], g = spec.groups;
  const int64_t o = w.size(0);
  if (c != w.size(1) * g || o % g != 0) {
    throw Error(ErrorKind::kUnsupported, "fast path: convolution weights " + sizes_text(w.sizes()) +
                                             " do not fit input " + sizes_text(spec.input_sizes));
  }
  memory::dims strides, dilates, pad, out{n, o};
  for (int i = 0; i < 2; ++i) {
    const int64_t extent = spec.dilation[i] * (w.size(2 + i) - 1) + 1;
    const int64_t size = (spec.input_sizes[2 + i] + 2 * spec.padding[i] - extent) / spec.stride[i] + 1;
    if (size < 1) {
      throw Error(ErrorKind::kUnsupported, "fast path: convolution output would be empty");
    }
    out.push_back(size);
    strides.push_back(spec.stride[i]);
    dilates.push_back(spec.dilation[i] - 1);
    pad.push_back(spec.padding[i]);
  }
  const memory::dims in(spec.input_sizes.begin(), spec.input_sizes.end());
  const memory::dims wdims = g == 1 ? memory::dims{o, c, w.size(2), w.size(3)}
                                    : memory::dims{g, o / g, c / g, w.size(2), w.size(3)};
  const dt data = spec.bf16 ? dt::bf16 : dt::f32;
  const memory::desc src_md(in, data, tag::nhwc), dst_md(out, data, tag::nhwc);
  const memory::desc any_weights(wdims, data, tag::any);
  const memory::desc bias_md({o}, dt::f32, tag::a);
  const auto desc = spec.bias ? dnnl::convolution_forward::desc(
                                    dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_md, any_weights,
                                    bias_md, dst_md, strides, dilates, pad, pad)
                              : dnnl::convolution_forward::desc(
                                    dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_md, any_weights,
                                    dst_md, strides, dilates, pad, pad);
  dnnl::convolution_forward::primitive_desc pd;
  try {
    pd = dnnl::convolution_forward::primitive_desc(desc, attributes(spec.post_ops), cpu_engine());
  } catch (const dnnl::error& e) {
    throw Error(ErrorKind::kUnsupported,
                std::string("fast path: oneDNN has no convolution for this node: ") + e.what());
  }
  const std::string implementation = pd.impl_info_str();
  require_optimized(implementation, "a convolution");
  auto s = std::make_shared<PrimitiveState>();
  s->primitive = dnnl::convolution_forward(pd);
  s->src = src_md;
  s->dst = dst_md;
  const memory::desc plain(wdims, dt::f32, g == 1 ? tag::oihw : tag::goihw);
  s->weights = packed_weights(*s, w.contiguous(), plain, pd.weights_desc(), cache);
  set_bias(*s, spec.bias, bias_md);
  s->input_sizes = spec.input_sizes;
  s->output_sizes.assign(out.begin(), out.end());
  s->sum = has_sum(spec.post_ops);
  s->mode = spec.sum_destination;
  s->format = at::MemoryFormat::ChannelsLast;
  s->dtype = spec.bf16 ? at::kBFloat16 : at::kFloat;
  return OneDnnKernel{operation(std::move(s), "convolution"), implementation};
}

OneDnnKernel make_linear(const LinearSpec& spec, PackedWeightCache* cache) {
  const at::Tensor& w = spec.weight;
  if (w.dim() != 2 || spec.input_sizes.empty() || spec.input_sizes.back() != w.size(1) ||
      w.scalar_type() != at::kFloat) {
    throw Error(ErrorKind::kUnsupported, "fast path: the oneDNN linear takes fp32 [O, K] weights "
                                         "and [..., K] inputs");
  }
  const int64_t k = w.size(1), o = w.size(0);
  const int64_t m = std::accumulate(spec.input_sizes.begin(), spec.input_sizes.end() - 1,
                                    int64_t{1}, std::multiplies<>());
  if (m < 1) throw Error(ErrorKind::kUnsupported, "fast path: a linear layer of no rows");
  const dt data = spec.bf16 ? dt::bf16 : dt::f32;
  const memory::desc src_md({m, k}, data, tag::ab), dst_md({m, o}, data, tag::ab);
  const memory::desc any_weights({k, o}, data, tag::any), bias_md({1, o}, dt::f32, tag::ab);
  const auto desc = spec.bias ? dnnl::matmul::desc(src_md, any_weights, bias_md, dst_md)
                              : dnnl::matmul::desc(src_md, any_weights, dst_md);
  dnnl::matmul::primitive_desc pd;
  try {
    pd = dnnl::matmul::primitive_desc(desc, attributes(spec.post_ops), cpu_engine());
  } catch (const dnnl::error& e) {
    throw Error(ErrorKind::kUnsupported,
                std::string("fast path: oneDNN has no matmul for this node: ") + e.what());
  }
  const std::string implementation = pd.impl_info_str();
  require_optimized(implementation, "a linear layer");
  auto s = std::make_shared<PrimitiveState>();
  s->primitive = dnnl::matmul(pd);
  s->src = src_md;
  s->dst = dst_md;
  // The weight [O, K] is the matmul's [K, O] with its strides swapped.
  const memory::desc plain({k, o}, dt::f32, memory::dims{w.stride(1), w.stride(0)});
  s->weights = packed_weights(*s, w, plain, pd.weights_desc(), cache);
  set_bias(*s, spec.bias, bias_md);
  s->input_sizes = spec.input_sizes;
  s->output_sizes = spec.input_sizes;
  s->output_sizes.back() = o;
  s->sum = has_sum(spec.post_ops);
  s->mode = spec.sum_destination;
  s->format = at::MemoryFormat::Contiguous;
  s->dtype = spec.bf16 ? at::kBFloat16 : at::kFloat;
  return OneDnnKernel{operation(std::move(s), "linear"), implementation};
}

namespace {

// make_matmul's primitives, one per pair of input strides seen (the last few).
class BatchedMatmul {
 public:
  BatchedMatmul(std::vector<int64_t> a, std::vector<int64_t> b, at::ScalarType dtype)
      : a_(std::move(a)), b_(std::move(b)), dtype_(dtype) {
    out_ = a_;
    out_.back() = b_.back();
  }

  void run(torch::jit::Stack& stack) {
    at::Tensor b = torch::jit::pop(stack).toTensor();
    at::Tensor a = torch::jit::pop(stack).toTensor();
    check_input(a, a_, "matmul");
    check_input(b, b_, "matmul");
    a = a.to(dtype_);
    b = b.to(dtype_);
    const Primitive* p = find(a, b);
    if (p == nullptr) p = &make(a, b);
    if (p->contiguous_a) a = a.contiguous();
    if (p->contiguous_b) b = b.contiguous();
    at::Tensor y = at::empty(out_, a.options());
    const dnnl::engine& eng = cpu_engine();
    memory ma(p->a, eng, a.data_ptr()), mb(p->b, eng, b.data_ptr()), my(p->y, eng, y.data_ptr());
    dnnl::stream strm(eng);
    p->primitive.execute(strm, {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, my}});
    strm.wait();
    stack.emplace_back(std::move(y));
  }

  // The implementation for contiguous inputs (what the node reports).
  std::string implementation() {
    return make(at::empty(a_, dtype_), at::empty(b_, dtype_)).implementation;
  }

 private:
  struct Primitive {
    std::vector<int64_t> a_strides, b_strides;
    bool contiguous_a = false, contiguous_b = false;
    memory::desc a, b, y;
    dnnl::matmul primitive;
    std::string implementation;
  };
  static constexpr size_t kKept = 4;

  const Primitive* find(const at::Tensor& a, const at::Tensor& b) const {
    for (const Primitive& p : primitives_) {
      if (a.strides() == c10::IntArrayRef(p.a_strides) &&
          b.strides() == c10::IntArrayRef(p.b_strides)) {
        return &p;
      }
    }
    return nullptr;
  }

  memory::desc desc_of(c10::IntArrayRef sizes, c10::IntArrayRef strides) const {
    return memory::desc(memory::dims(sizes.begin(), sizes.end()),
                        dtype_ == at::kBFloat16 ? dt::bf16 : dt::f32,
                        memory::dims(strides.begin(), strides.end()));
  }

  const Primitive& make(const at::Tensor& a, const at::Tensor& b) {
    Primitive p;
    p.a_strides.assign(a.strides().begin(), a.strides().end());
    p.b_strides.assign(b.strides().begin(), b.strides().end());
    p.y = desc_of(out_, at::empty(out_, at::kFloat).strides());
    // As given, then with a contiguous b, then with both contiguous: the first that oneDNN has
    // an optimized kernel for.
    for (int attempt = 0; attempt < 3; ++attempt) {
      p.contiguous_b = attempt >= 1;
      p.contiguous_a = attempt >= 2;
      p.a = desc_of(a_, p.contiguous_a ? c10::IntArrayRef(at::empty(a_, at::kFloat).strides())
                                      : a.strides());
      p.b = desc_of(b_, p.contiguous_b ? c10::IntArrayRef(at::empty(b_, at::kFloat).strides())
                                      : b.strides());
      dnnl::matmul::primitive_desc pd;
      try {
        pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(p.a, p.b, p.y), cpu_engine());
      } catch (const dnnl::error&) {
        continue;
      }
      p.implementation = pd.impl_info_str();
      if (p.implementation.rfind("ref", 0) == 0 && attempt < 2) continue;
      require_optimized(p.implementation, "a batched matmul");
      p.primitive = dnnl::matmul(pd);
      if (primitives_.size() == kKept) primitives_.erase(primitives_.begin());
      primitives_.push_back(std::move(p));
      return primitives_.back();
    }
    throw Error(ErrorKind::kUnsupported, "fast path: oneDNN has no matmul for " +
                                             sizes_text(a_) + " by " + sizes_text(b_));
  }

  std::vector<int64_t> a_, b_, out_;
  at::ScalarType dtype_;
  std::vector<Primitive> primitives_;
};

}  // namespace

OneDnnKernel make_matmul(const std::vector<int64_t>& a_sizes, const std::vector<int64_t>& b_sizes,
                         bool bf16) {
  const size_t dims = a_sizes.size();
  if (dims < 3 || dims > DNNL_MAX_NDIMS || b_sizes.size() != dims ||
      a_sizes.back() != b_sizes[dims - 2] ||
      !std::equal(a_sizes.begin(), a_sizes.end() - 2, b_sizes.begin())) {
    throw Error(ErrorKind::kUnsupported, "fast path: the oneDNN matmul takes [..., M, K] by "
                                         "[..., K, N] with equal batch dims, not " +
                                             sizes_text(a_sizes) + " by " + sizes_text(b_sizes));
  }
  auto matmul =
      std::make_shared<BatchedMatmul>(a_sizes, b_sizes, bf16 ? at::kBFloat16 : at::kFloat);
  std::string implementation = matmul->implementation();
  return OneDnnKernel{[matmul](torch::jit::Stack& stack) { matmul->run(stack); },
                      std::move(implementation)};
}

}  // namespace ptinfer::fastpath::graph
