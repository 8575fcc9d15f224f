#pragma once
// The IMDB reviews of the Large Movie Review Dataset (ai.stanford.edu/~amaas/data/sentiment),
// as the aclImdb folder: DIR/train/pos/*.txt, DIR/train/neg/*.txt, DIR/test/pos, DIR/test/neg.
// Labels: pos = 1, neg = 0 (what the one-unit sigmoid of imdb_cnn_lstm predicts).
//
// Encoded the way keras.datasets.imdb + pad_sequences encode it, so the study's model sees what it
// saw there:
//  - tokens: the text lowercased (ASCII), each "<br />" replaced by a space, then split into
//    maximal runs of letters, digits, apostrophes and non-ASCII bytes (so UTF-8 words like "café"
//    stay whole; the same characters Keras' Tokenizer keeps); tokens made only of apostrophes are
//    dropped.
//  - vocabulary: words ranked by their count over the TRAIN split only (the test split never
//    influences it); ties broken by the word's bytes in ascending order, so the ranking is
//    deterministic.
//  - indices: 0 = padding, 1 = start of the review, 2 = out of vocabulary, 3 unused (Keras'
//    index_from=3), the word of rank r (0 = most frequent) is r + 4. A word whose index would be
//    >= the model's vocabulary becomes 2, as Keras' num_words does.
//  - each review is [1, words...], then padded with 0 or truncated to the sequence length, both at
//    the front (Keras' default 'pre': the end of a long review is kept).
// Memory: N x sequence_length int64 (25000 x 100 x 8 = 20 MB per split), once per node (registry.cpp).
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "datasets/labelled_set.hpp"

namespace scalebench::datasets {

constexpr std::int64_t kImdbPad = 0, kImdbStart = 1, kImdbOov = 2, kImdbFirstWord = 4;

std::vector<std::string> imdb_tokenize(std::string_view text);
// word -> index (>= kImdbFirstWord) for every word of `documents`, ranked as above.
std::unordered_map<std::string, std::int64_t> imdb_word_index(
    const std::vector<std::vector<std::string>>& documents);
// One review as `sequence_length` ids below `vocabulary`.
std::vector<std::int64_t> imdb_encode(const std::vector<std::string>& tokens,
                                      const std::unordered_map<std::string, std::int64_t>& index,
                                      std::int64_t vocabulary, std::int64_t sequence_length);

std::string imdb_expected_files();
// Throws DataError naming the folder or file: missing folder, a folder without .txt files, a file
// that cannot be read. vocabulary must be >= 3 (pad, start, out-of-vocabulary), sequence_length >= 1.
TrainTest read_imdb_dir(const std::string& dir, std::int64_t vocabulary,
                        std::int64_t sequence_length);

}  // namespace scalebench::datasets
