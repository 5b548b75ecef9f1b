#![allow(dead_code)]

pub mod connect_double;
pub mod harness;
pub mod runtime_api;
