// The Keras IMDB CNN-LSTM example (keras/examples/imdb_cnn_lstm.py), used by the Python-vs-R study:
//   Embedding(vocab, E) -> Dropout 0.25 -> Conv1D(64, 5, 'valid', ReLU) -> MaxPool1D(4) -> LSTM(70)
//   -> Dense 1 sigmoid; binary cross-entropy, Adam. Keras' Conv1D works on [batch, steps,
//   channels], torch's on [batch, channels, steps]: transposed around the convolution.
#include "models/layers.hpp"
#include "models/registry.hpp"

namespace scalebench::models {
namespace nn = torch::nn;

namespace {
constexpr std::int64_t kVocabulary = 20000;  // the example's max_features
constexpr std::int64_t kSequence = 100;      // maxlen
constexpr std::int64_t kEmbedding = 128;     // embedding_size
constexpr std::int64_t kFilters = 64;
constexpr std::int64_t kKernel = 5;
constexpr std::int64_t kPool = 4;
constexpr std::int64_t kLstmUnits = 70;
constexpr double kKerasEmbeddingInitBound = 0.05;  // Keras Embedding: uniform(-0.05, 0.05)

std::int64_t lstm_steps(std::int64_t sequence) { return window_out(window_out(sequence, kKernel), kPool, kPool); }

class ImdbCnnLstm : public Network {
 public:
  ImdbCnnLstm(std::int64_t vocabulary, std::int64_t sequence, std::int64_t embedding)
      : Network({{sequence}, torch::kInt64, vocabulary}, 1, LossKind::kBinaryCrossentropy),
        embedding_(register_module("embedding", nn::Embedding(vocabulary, embedding))),
        dropout_(register_module("dropout", nn::Dropout(0.25))),
        conv_(register_module("conv", CountedConv1d(nn::Conv1dOptions(embedding, kFilters, kKernel)))),
        lstm_(register_module("lstm", KerasLSTM(kFilters, kLstmUnits))),
        dense_(register_module("dense", CountedLinear(kLstmUnits, 1))) {
    keras_initialize(*this);
    torch::NoGradGuard no_grad;
    nn::init::uniform_(embedding_->weight, -kKerasEmbeddingInitBound, kKerasEmbeddingInitBound);
  }

  torch::Tensor forward(torch::Tensor tokens) override {
    torch::Tensor x = dropout_->forward(embedding_->forward(tokens));       // [B, T, E]
    x = torch::relu(conv_->forward(x.transpose(1, 2)));                    // [B, 64, T-4]
    x = torch::max_pool1d(x, kPool, kPool).transpose(1, 2).contiguous();  // [B, (T-4)/4, 64]
    return dense_->forward(lstm_->forward(x));                             // [B, 1] logits
  }

 private:
  nn::Embedding embedding_;
  nn::Dropout dropout_;
  CountedConv1d conv_;
  KerasLSTM lstm_;
  CountedLinear dense_;
};
}  // namespace

ModelEntry imdb_cnn_lstm_entry() {
  ModelEntry e;
  e.name = "imdb_cnn_lstm";
  e.source = "Keras example imdb_cnn_lstm.py (Python-vs-R study)";
  e.description = "Embedding 20000x128 + dropout + Conv1D 64x5 + MaxPool 4 + LSTM 70 + Dense 1 sigmoid "
                  "(study's variant: --embedding-size 32 --sequence-length 250)";
  e.input_kind = InputKind::kTokens;
  e.input_shape = {kSequence};
  e.num_classes = 1;
  e.loss = "binary_crossentropy";
  e.default_batch = 30;
  e.default_optimizer = "adam";
  e.default_lr = 1e-3;
  e.min_sequence_length = smallest_size([](std::int64_t n) { return lstm_steps(n) >= 1; });
  e.build = [](const ModelOptions& o) -> std::shared_ptr<Network> {
    return std::make_shared<ImdbCnnLstm>(o.vocab_size.value_or(kVocabulary), o.sequence_length.value_or(kSequence),
                                         o.embedding_size.value_or(kEmbedding));
  };
  return e;
}

}  // namespace scalebench::models
