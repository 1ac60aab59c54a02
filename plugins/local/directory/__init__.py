"""`Strongbox::Directory`: discover directory trees and protect them through the chunk
store; walk, upload, manifest, restore and the restore target, each in its module."""
