//! The codec of every generated client and server: prost's, with smaller buffers.
//!
//! tonic gives each call an encode buffer and each streamed reply a decode buffer of
//! 8 KiB by default, held for the stream's whole life. Every event of a streamed run is
//! a small message (a text delta is tens of bytes), and a server holds one such stream
//! per open SSE connection (twice in one process: the service's encoder and the
//! gateway's decoder), so the default costs about 16 KiB per open stream. A buffer
//! grows to fit any bigger message (file chunks, long lists); it only starts small.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

/// Bytes an encode or decode buffer starts with.
pub const BUFFER_SIZE: usize = 1024;
/// Bytes of encoded messages a streamed reply gathers before it yields them
/// (tonic's default).
pub const YIELD_THRESHOLD: usize = 32 * 1024;

/// prost's codec with [`BUFFER_SIZE`] buffers.
#[derive(Debug, Clone, Copy)]
pub struct SmallBufferCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SmallBufferCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD)
}

impl<T, U> Codec for SmallBufferCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(settings())
    }
}
