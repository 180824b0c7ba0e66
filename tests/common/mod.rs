//! Test helpers shared by several test files.

pub mod netns;
pub mod vm;
