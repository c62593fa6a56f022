// The follow-up rule of RAG chat (rag/answer/followup.h).
#include "rag/answer/followup.h"

#include <gtest/gtest.h>

namespace ragd::rag {
namespace {

using Msgs = std::vector<model::ChatMessage>;

TEST(FollowUp, FirstQuestionStandsAlone) {
  EXPECT_EQ(followup_query({{"system", "be brief"}, {"user", "Where is Mount Etna?"}}), "Where is Mount Etna?");
  EXPECT_EQ(followup_query({{"system", "only a system prompt"}}), "");
}

TEST(FollowUp, PronounOrShortFollowUpGetsThePreviousQuestion) {
  Msgs m = {{"user", "Where is Mount Etna?"}, {"assistant", "In Sicily [1]."}, {"user", "How tall is it really, in metres?"}};
  EXPECT_EQ(followup_query(m), "Where is Mount Etna? How tall is it really, in metres?");
  m.back().content = "And Vesuvius?";  // short: two words
  EXPECT_EQ(followup_query(m), "Where is Mount Etna? And Vesuvius?");
}

TEST(FollowUp, SelfContainedFollowUpStandsAlone) {
  Msgs m = {{"user", "Where is Mount Etna?"}, {"assistant", "In Sicily."},
            {"user", "What is green tea made from in China?"}};
  EXPECT_EQ(followup_query(m), "What is green tea made from in China?");
  // Only the previous user turn is used, never the assistant's, never older turns.
  m.push_back({"assistant", "Leaves [1]."});
  m.push_back({"user", "Is it oxidised?"});
  EXPECT_EQ(followup_query(m), "What is green tea made from in China? Is it oxidised?");
}

}  // namespace
}  // namespace ragd::rag
