#pragma once
// The queue in front of the message log's group-commit writer, after rocksdb
// `db/write_thread.h`: producers link themselves onto a lock-free list with one CAS on its
// newest node (WriteThread::LinkOne), and the writer takes the whole list at once and walks it
// oldest first (WriteThread::EnterAsBatchGroupLeader / CreateMissingNewerLinks). Unlike
// RocksDB, no producer ever becomes the leader: one dedicated writer thread commits every group,
// so the commit listener and the completions always run on that thread, in commit order.
//
// Locking contract:
//  - push() and close() may be called from any thread, concurrently; they never block and never
//    take a lock. push() fails once close() has been called.
//  - take() is called by the single writer thread only. It blocks (std::atomic::wait, which
//    spins briefly and then sleeps on a futex) while the queue is empty and open.
//  - A node belongs to the queue from a successful push() until take() returns it; then it
//    belongs to the writer. Nodes are never copied or freed by the queue.
//  - Everything pushed before close() is still returned by take(), so closing drains.

#include <atomic>
#include <cstdint>

namespace monochat::storage::detail {

// Node must have a member `Node* queue_next_`.
template <class Node>
class write_queue {
public:
    struct taken {
        Node* oldest = nullptr;  // linked through queue_next_ from oldest to newest
        bool closed = false;     // close() was called; nothing more will ever be pushed
    };

    write_queue() = default;
    write_queue(const write_queue&) = delete;
    write_queue& operator=(const write_queue&) = delete;

    // Links `node` as the newest; false (node untouched) when the queue is closed.
    bool push(Node* node) noexcept {
        std::uintptr_t head = head_.load(std::memory_order_relaxed);
        do {
            if ((head & closed_bit) != 0) {
                return false;
            }
            node->queue_next_ = reinterpret_cast<Node*>(head);
        } while (!head_.compare_exchange_weak(head, reinterpret_cast<std::uintptr_t>(node),
                                              std::memory_order_release,
                                              std::memory_order_relaxed));
        // Only an empty, open queue can have the writer asleep in take().
        if (head == 0) {
            head_.notify_one();
        }
        return true;
    }

    void close() noexcept {
        head_.fetch_or(closed_bit, std::memory_order_acq_rel);
        head_.notify_one();
    }

    bool closed() const noexcept {
        return (head_.load(std::memory_order_acquire) & closed_bit) != 0;
    }

    // Waits for nodes (or close) and takes every queued node, oldest first.
    taken take() noexcept {
        head_.wait(0, std::memory_order_acquire);
        std::uintptr_t head = head_.load(std::memory_order_acquire);
        // Keep the closed bit, take the list.
        while (!head_.compare_exchange_weak(head, head & closed_bit, std::memory_order_acquire,
                                            std::memory_order_acquire)) {
        }
        taken out;
        out.closed = (head & closed_bit) != 0;
        // The list runs newest to oldest; reverse it in place so the group commits in arrival
        // order (the order in which seqs are assigned).
        Node* node = reinterpret_cast<Node*>(head & ~closed_bit);
        while (node != nullptr) {
            Node* older = node->queue_next_;
            node->queue_next_ = out.oldest;
            out.oldest = node;
            node = older;
        }
        return out;
    }

private:
    // The low bit of a node pointer is free (nodes are at least 2-byte aligned).
    static constexpr std::uintptr_t closed_bit = 1;

    // Newest node | closed_bit; 0 when empty and open.
    std::atomic<std::uintptr_t> head_{0};
};

}  // namespace monochat::storage::detail
