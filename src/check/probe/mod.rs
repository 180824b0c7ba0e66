//! placeholder: one attempt of a check against one target.
