//! Test helpers shared by several test files.

pub mod vm;
