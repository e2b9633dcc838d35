# frozen_string_literal: true

require_relative "test_helper"

# The README's ```ruby blocks run as written, each in its own process.
class ReadmeTest < Minitest::Test
  def blocks
    File.read(File.join(RUBY_DIR, "README.md")).scan(/^```ruby\n(.*?)^```$/m).flatten
  end

  def test_readme_has_examples
    assert_operator blocks.size, :>=, 1
  end

  def test_every_ruby_block_runs
    blocks.each_with_index do |code, i|
      out, err, status = run_ruby(code)
      assert status.success?, "README ruby block #{i + 1} failed:\n#{err}"
      refute_empty out, "README ruby block #{i + 1} printed nothing"
    end
  end

  def test_first_example_output
    out, err, status = run_ruby(blocks.first)
    assert status.success?, err
    assert_match(/^response x-toto-hmac: [A-Za-z0-9+\/]{27}=$/, out)
    assert_includes out, "tampered: 1008 Invalid HMAC"
    assert_includes out, 'visits=1 cart={"items"=>[1, 2]} avatar=ASCII-8BIT'
    assert_includes out, "alice: alice@example.com (pro)"
  end

  def test_backend_example_output
    out, err, status = run_ruby(blocks[1])
    assert status.success?, err
    assert_match(/^store \S{22} for "bob"/, out)
    assert_includes out, "IOError: connection reset (cause: IOError)"
  end
end
