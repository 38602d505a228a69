//! Datasets: labelled texts from IMDB-layout folders and tarballs.

pub mod imdb;
pub mod tarball;
