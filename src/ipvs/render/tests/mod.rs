//! Unit tests of the renderers, one file a layout: byte-for-byte ipvsadm
//! output for the tables in `fixtures`.

mod both_layouts;
mod fields;
mod fixtures;
mod list;
mod order;
mod save;
